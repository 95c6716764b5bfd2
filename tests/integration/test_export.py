"""Export round-trips: JSONL and Parquet read back by pandas, pyarrow, duckdb and datasets; filters exact."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bugtrail.export import flows
from bugtrail.export.filters import ExportFilters
from bugtrail.export.repository import list_records
from tests.support.seed import BASE_TIME, add_error_trace, add_trace


@pytest.fixture
def db(database):
    return database


@pytest.fixture
def seeded(db):
    """A mix of traces; returns {name: trace_id}."""
    ids = {}
    with db.scope() as s:
        ids["good"] = add_trace(s, index=0, developer_id="alice", reasoning_score=4.5)
        ids["failing"] = add_trace(
            s,
            index=1,
            developer_id="bob",
            tests_passed=False,
            resolved=False,
            reasoning_score=2.0,
            repo_url="https://github.com/example/other",
        )
        ids["pending"] = add_trace(
            s, index=2, status="pending", tests_passed=None, resolved=None, reasoning_score=None, qa=None
        )
        ids["late"] = add_trace(
            s, index=3, created_at=BASE_TIME + timedelta(days=10), reasoning_score=3.0, resolved=False
        )
        ids["empty"] = add_trace(
            s,
            index=4,
            events=[],
            status="failed",
            tests_passed=None,
            resolved=None,
            reasoning_score=None,
            qa={"outcome": "error", "error": "clone failed", "tests_passed": None, "resolved": None},
        )
    return ids


def _export_jsonl(db, tmp_path: Path, filters: ExportFilters, batch_size: int = 2) -> tuple[Path, list[dict]]:
    record_id = flows.start_export(db, "jsonl", filters, "tester")
    out = tmp_path / "out.jsonl"
    with out.open("wb") as handle:
        for chunk in flows.jsonl_chunks(db, filters, record_id, batch_size=batch_size):
            handle.write(chunk)
    return out, [json.loads(line) for line in out.read_text().splitlines()]


def test_jsonl_rows_equal_the_trace_read_shape_with_all_events_and_qa(db, tmp_path, seeded):
    from bugtrail.traces.repository import get_trace_read

    _out, rows = _export_jsonl(db, tmp_path, ExportFilters())
    assert len(rows) == 5
    assert [row["trace_id"] for row in rows[:4]] == [
        seeded[k] for k in ("good", "failing", "pending", "empty")
    ]
    by_id = {row["trace_id"]: row for row in rows}
    with db.scope(read_only=True) as s:
        for trace_id, row in by_id.items():
            expected = get_trace_read(s, trace_id)
            assert expected is not None
            assert row == json.loads(expected.model_dump_json())
    good = by_id[seeded["good"]]
    assert [e["type"] for e in good["events"]] == ["reasoning", "command", "edit", "command", "reasoning"]
    assert [e["seq"] for e in good["events"]] == [0, 1, 2, 3, 4]
    assert good["qa_results"]["judge"]["criteria"]["verification"]["score"] == 5
    assert good["qa_results"]["fail_to_pass"] == ["tests/test_calc.py::test_add"]
    assert by_id[seeded["pending"]]["qa_results"] is None
    assert by_id[seeded["empty"]]["events"] == []


def test_jsonl_reads_back_with_pandas_duckdb_and_datasets(db, tmp_path, seeded, monkeypatch):
    out, _rows = _export_jsonl(db, tmp_path, ExportFilters())
    import duckdb
    import pandas as pd

    frame = pd.read_json(out, lines=True)
    assert len(frame) == 5 and set(frame["trace_id"]) == set(seeded.values())
    con = duckdb.connect()
    count = con.execute(
        f"SELECT count(*) FROM read_json_auto('{out}', format='newline_delimited')"
    ).fetchone()
    assert count == (5,)

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    import datasets

    dataset = datasets.load_dataset(
        "json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf")
    )
    assert dataset.num_rows == 5
    loaded = {row["trace_id"]: row for row in dataset}
    good = loaded[seeded["good"]]
    assert len(good["events"]) == 5
    assert good["events"][2]["details"]["diff"].startswith("--- a/calc.py")
    assert good["qa_results"]["pass_to_pass"] == ["tests/test_calc.py::test_sub"]
    assert good["qa_results"]["judge"]["criteria"]["hypothesis_quality"]["score"] == 4


def test_export_record_has_count_bytes_and_sha256(db, tmp_path, seeded):
    out, _ = _export_jsonl(db, tmp_path, ExportFilters(resolved=True))
    data = out.read_bytes()
    with db.scope(read_only=True) as s:
        record = list_records(s)[0]
        assert record.format == "jsonl"
        assert record.filters == {"use": "external", "resolved": True}
        assert record.trace_count == 1
        assert record.byte_count == len(data)
        assert record.sha256 == hashlib.sha256(data).hexdigest()
        assert record.completed_at is not None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ExportFilters(status=["completed"]), {"good", "failing", "late"}),
        (ExportFilters(status=["pending,failed"]), {"pending", "empty"}),
        (ExportFilters(tests_passed=True), {"good", "late"}),
        (ExportFilters(tests_passed=False), {"failing"}),
        (ExportFilters(resolved=True), {"good"}),
        (ExportFilters(resolved=False), {"failing", "late"}),
        (ExportFilters(min_reasoning_score=3.0), {"good", "late"}),
        (ExportFilters(max_reasoning_score=3.0), {"failing", "late"}),
        (ExportFilters(min_reasoning_score=2.5, max_reasoning_score=4.0), {"late"}),
        (ExportFilters(developer_id="bob"), {"failing"}),
        (ExportFilters(repo_url="https://github.com/example/other"), {"failing"}),
        (ExportFilters(created_after=BASE_TIME + timedelta(days=1)), {"late"}),
        (ExportFilters(created_before=BASE_TIME + timedelta(minutes=2)), {"good", "failing"}),
        (
            ExportFilters(
                created_after=BASE_TIME + timedelta(minutes=1),
                created_before=BASE_TIME + timedelta(minutes=3),
            ),
            {"failing", "pending"},
        ),
        (ExportFilters(developer_id="alice", resolved=True, min_reasoning_score=4.4), {"good"}),
        (ExportFilters(developer_id="nobody"), set()),
    ],
)
def test_filters_select_exactly_the_right_traces(db, tmp_path, seeded, filters, expected):
    _, rows = _export_jsonl(db, tmp_path, filters, batch_size=1)
    names = {name for name, trace_id in seeded.items() if trace_id in {row["trace_id"] for row in rows}}
    assert names == expected
    assert len(rows) == len(expected)
    assert flows.count(db, filters) == len(expected)


def test_aware_created_bounds_are_converted_to_utc():
    from datetime import datetime, timezone

    bound = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ExportFilters(created_after=bound).created_after == datetime(2026, 3, 1, 12, 0)


def test_parquet_trace_layout_round_trips_in_pyarrow_pandas_duckdb(db, tmp_path, seeded):
    out = tmp_path / "traces.parquet"
    filters = ExportFilters()
    record_id = flows.start_export(db, "parquet", filters, "tester", "trace")
    result = flows.write_parquet(db, filters, record_id, out, "trace", batch_size=2)
    assert result.trace_count == 5
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()

    parquet_file = pq.ParquetFile(out)
    assert parquet_file.metadata.num_row_groups == 3  # one per batch: written incrementally
    table = pq.read_table(out)
    rows = {row["trace_id"]: row for row in table.to_pylist()}
    good = rows[seeded["good"]]
    _, jsonl_rows = _export_jsonl(db, tmp_path, filters)
    expected = next(r for r in jsonl_rows if r["trace_id"] == seeded["good"])
    assert [e["seq"] for e in good["events"]] == [0, 1, 2, 3, 4]
    assert [json.loads(e["details"]) for e in good["events"]] == [e["details"] for e in expected["events"]]
    assert [e["event_id"] for e in good["events"]] == [e["event_id"] for e in expected["events"]]
    assert json.loads(good["qa_results"]) == expected["qa_results"]
    assert good["reasoning_score"] == 4.5 and good["tests_passed"] is True
    assert good["created_at"].replace(tzinfo=None) == BASE_TIME
    assert rows[seeded["pending"]]["qa_results"] is None
    assert rows[seeded["empty"]]["events"] == []

    import duckdb
    import pandas as pd

    frame = pd.read_parquet(out)
    assert len(frame) == 5 and len(frame.loc[frame.trace_id == seeded["good"], "events"].iloc[0]) == 5
    con = duckdb.connect()
    events = con.execute(f"SELECT sum(len(events)) FROM read_parquet('{out}')").fetchone()
    assert events == (20,)
    diff = con.execute(
        f"SELECT json_extract_string(e.details, '$.diff') FROM "
        f"(SELECT unnest(events) AS e FROM read_parquet('{out}')) WHERE e.type = 'edit' LIMIT 1"
    ).fetchone()
    assert diff is not None and diff[0].startswith("--- a/calc.py")


def test_parquet_event_layout_has_one_row_per_event(db, tmp_path, seeded):
    out = tmp_path / "events.parquet"
    filters = ExportFilters(status=["completed"])
    record_id = flows.start_export(db, "parquet", filters, "tester", "event")
    flows.write_parquet(db, filters, record_id, out, "event")
    import pandas as pd

    frame = pd.read_parquet(out)
    assert len(frame) == 15
    assert set(frame["trace_id"]) == {seeded["good"], seeded["failing"], seeded["late"]}
    good = frame[frame.trace_id == seeded["good"]].sort_values("seq")
    assert list(good["type"]) == ["reasoning", "command", "edit", "command", "reasoning"]
    assert json.loads(good.iloc[0]["details"])["reasoning_type"] == "hypothesis"
    with db.scope(read_only=True) as s:
        assert list_records(s)[0].filters == {"use": "external", "status": ["completed"], "layout": "event"}


def test_empty_parquet_export_is_still_readable(db, tmp_path):
    out = tmp_path / "none.parquet"
    filters = ExportFilters(developer_id="nobody")
    record_id = flows.start_export(db, "parquet", filters, None)
    result = flows.write_parquet(db, filters, record_id, out)
    assert result.trace_count == 0
    assert pq.read_table(out).num_rows == 0


def test_hf_offline_env_is_not_leaked():
    assert os.environ.get("HF_HUB_OFFLINE") in (None, "1")


def test_filters_on_the_newest_qa_results_outcome_error_kind_and_patch_exact(db, tmp_path):
    """`outcome=error&error_kind=environment` and `patch_exact` select by the newest result's document."""
    with db.scope() as s:
        environment = add_error_trace(
            s, index=0, error_kind="environment", error="test files failed to collect in both runs"
        )
        add_error_trace(s, index=1, error_kind="infrastructure", error="no daemon")
        fuzzy = add_trace(s, index=2, qa={"schema": 2, "outcome": "completed", "patch_exact": False})
        exact = add_trace(s, index=3, qa={"schema": 2, "outcome": "completed", "patch_exact": True})
        legacy_fuzzy = add_trace(  # schema 1: patch_exact only derivable from patch_report, not filtered
            s,
            index=4,
            qa={"outcome": "completed", "patch_report": [{"applied": True, "method": "patch-fuzz"}]},
        )

    def exported(**filters) -> list[str]:
        _, rows = _export_jsonl(db, tmp_path, ExportFilters(**filters))
        return [row["trace_id"] for row in rows]

    assert exported(outcome=["error"], error_kind=["environment"]) == [environment]
    assert exported(patch_exact=False) == [fuzzy]
    assert exported(patch_exact=True) == [exact]
    assert exported(outcome=["completed"]) == [fuzzy, exact, legacy_fuzzy]
    _, rows = _export_jsonl(db, tmp_path, ExportFilters(error_kind=["environment"]))
    assert rows[0]["qa_results"]["error_kind"] == "environment" and rows[0]["qa_results"]["resolved"] is None
    _, rows = _export_jsonl(db, tmp_path, ExportFilters(outcome=["completed"]))
    assert rows[-1]["qa_results"]["schema"] == 3 and rows[-1]["qa_results"]["patch_exact"] is False
