"""duplicate_of and upstream_match in the database (SQLite and PostgreSQL): which earlier trace is a
duplicate, the trace columns the storing transaction sets, the export filters and the exported fields."""

from __future__ import annotations

import json
from typing import Any

from bugtrail.config import Settings
from bugtrail.db.models import Trace, utcnow
from bugtrail.qa import repository as qa_repo
from bugtrail.qa.duplicates import find_duplicate
from bugtrail.traces.repository import get_trace_read
from tests.support.buggy_repo import CALC, FIXED, NEW_TEST, TESTS, WRONG_FIX, diff
from tests.support.seed import add_trace

REPO = "https://github.com/example/calc"
UPSTREAM = "f" * 40


def fix_events(source: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("reasoning", {"text": "add() subtracts", "reasoning_type": "hypothesis"}),
        ("edit", {"file": "tests/test_calc.py", "diff": diff("tests/test_calc.py", TESTS, NEW_TEST)}),
        ("edit", {"file": "calc.py", "diff": diff("calc.py", CALC, source)}),
    ]


def seed(database: Any) -> dict[str, str]:
    bug = "add(2, 3) returns -1 instead of 5"
    ids: dict[str, str] = {}
    with database.scope() as s:
        ids["original"] = add_trace(s, index=0, events=fix_events(FIXED), bug_description=bug)
        ids["copy"] = add_trace(s, index=1, events=fix_events(FIXED), bug_description=bug)
        ids["other_fix"] = add_trace(s, index=2, events=fix_events(WRONG_FIX), bug_description=bug)
        ids["other_repo"] = add_trace(
            s, index=3, events=fix_events(FIXED), bug_description=bug, repo_url=f"{REPO}-fork"
        )
        ids["other_bug"] = add_trace(s, index=4, events=fix_events(FIXED), bug_description="mul is slow")
        ids["reworded"] = add_trace(
            s, index=5, events=fix_events(FIXED), bug_description="add(2,3) returns -1, instead of 5."
        )
        for name in ("other_bug", "reworded"):  # another base commit: only the bug text can match
            trace = s.get(Trace, ids[name])
            assert trace is not None
            trace.base_commit = "b" * 40
    return ids


def duplicate_of(database: Any, trace_id: str, settings: Settings | None = None) -> str | None:
    with database.scope(read_only=True) as s:
        trace = get_trace_read(s, trace_id)
        assert trace is not None
        return find_duplicate(s, settings or Settings(), trace)


def test_the_earliest_earlier_trace_of_the_same_repo_bug_and_patch_is_the_duplicate(database):
    ids = seed(database)
    assert duplicate_of(database, ids["original"]) is None  # nothing earlier
    assert duplicate_of(database, ids["copy"]) == ids["original"]
    assert duplicate_of(database, ids["other_fix"]) is None  # same bug, another patch
    assert duplicate_of(database, ids["other_repo"]) is None  # same patch, another repository
    assert duplicate_of(database, ids["other_bug"]) is None  # another base commit and another bug text
    assert duplicate_of(database, ids["reworded"]) == ids["original"]  # the same bug in other words
    assert duplicate_of(database, ids["copy"], Settings(duplicate_max_candidates=0)) is None


def store(database: Any, trace_id: str, document: dict[str, Any]) -> None:
    with database.scope() as s:
        qa_repo.add_qa_result(
            s, trace_id=trace_id, job_id=None, outcome="completed", document=document, qa_timestamp=utcnow()
        )


def test_storing_a_result_sets_the_flags_and_export_filters_on_them(database, tmp_path):
    from bugtrail.export import flows
    from bugtrail.export.filters import ExportFilters

    ids = seed(database)
    match = {"commit": UPSTREAM, "similarity": 0.97}
    store(database, ids["original"], {"schema": 3, "outcome": "completed", "upstream_match": match})
    store(database, ids["copy"], {"schema": 3, "outcome": "completed", "duplicate_of": ids["original"]})
    with database.scope(read_only=True) as s:
        original, copy = (get_trace_read(s, ids[name]) for name in ("original", "copy"))
    assert original is not None and copy is not None
    assert original.upstream_commit == UPSTREAM and original.duplicate_of is None
    assert copy.duplicate_of == ids["original"] and copy.upstream_commit is None
    assert original.qa_results is not None and original.qa_results.upstream_match is not None
    assert original.qa_results.upstream_match.similarity == 0.97

    def exported(**filters: Any) -> list[dict[str, Any]]:
        chosen = ExportFilters(**filters)
        record_id = flows.start_export(database, "jsonl", chosen, "tester")
        text = b"".join(flows.jsonl_chunks(database, chosen, record_id)).decode()
        return [json.loads(line) for line in text.splitlines()]

    (flagged,) = exported(upstream_match=True)
    assert flagged["trace_id"] == ids["original"] and flagged["upstream_commit"] == UPSTREAM
    assert flagged["qa_results"]["upstream_match"] == match
    assert ids["original"] not in {row["trace_id"] for row in exported(upstream_match=False)}
    (duplicate,) = exported(duplicate=True)
    assert duplicate["trace_id"] == ids["copy"] and duplicate["duplicate_of"] == ids["original"]
    assert len(exported(duplicate=False)) == len(ids) - 1

    # A newer result without the flags (a re-run) clears them: the newest result wins.
    store(database, ids["original"], {"schema": 3, "outcome": "completed"})
    assert exported(upstream_match=True) == []


def test_the_export_api_takes_the_filters(client, keys, database):
    ids = seed(database)
    store(database, ids["copy"], {"schema": 3, "outcome": "completed", "duplicate_of": ids["original"]})
    params = {"format": "jsonl", "duplicate": "true"}
    response = client.get("/api/export", params=params, headers=keys.reviewer)
    assert response.status_code == 200, response.text
    assert [json.loads(line)["trace_id"] for line in response.text.splitlines()] == [ids["copy"]]
    bad = client.get("/api/export", params={"upstream_match": "maybe"}, headers=keys.reviewer)
    assert bad.status_code == 422 and "upstream_match" in bad.text
