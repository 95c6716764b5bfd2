"""Curation metadata through the service: computed at finalize (same transaction), served by GET, exported,
computed on read for traces stored before it existed, backfilled by the CLI, shown on the dashboard."""

from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq

from tests.support.curation_trace import EXPECTED, TEST_COMMAND, api_events
from tests.support.seed import add_consent, add_trace


def _create(client, headers, finalize: bool) -> str:  # type: ignore[no-untyped-def]
    body = {
        "repo_url": "https://github.com/example/calc",
        "bug_description": "add() subtracts",
        "test_command": TEST_COMMAND,
        "events": api_events(),
    }
    response = client.post("/api/traces", params={"finalize": finalize}, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["trace_id"])


def _curation(document: dict) -> dict:
    return {k: v for k, v in document["curation"].items() if k not in ("started_at", "ended_at")}


def test_finalize_stores_curation_and_get_and_exports_serve_it(client, keys, database) -> None:  # type: ignore[no-untyped-def]
    from bugtrail.db.models import Trace

    pending = _create(client, keys.alice, finalize=False)
    assert client.get(f"/api/traces/{pending}", headers=keys.alice).json()["curation"] is None
    finalized = client.post(f"/api/traces/{pending}/finalize", headers=keys.alice)
    assert finalized.status_code == 202
    with database.scope(read_only=True) as s:
        stored = s.get(Trace, pending)
        assert stored is not None and stored.status == "queued" and stored.curation is not None
        assert {k: v for k, v in stored.curation.items() if k not in ("started_at", "ended_at")} == EXPECTED

    document = client.get(f"/api/traces/{pending}", headers=keys.alice).json()
    assert _curation(document) == EXPECTED
    assert document["curation"]["started_at"] == "2026-03-01T08:00:00Z"
    assert document["curation"]["ended_at"] == "2026-03-01T08:38:40Z"

    # Created and finalized in one request: the same numbers.
    at_once = _create(client, keys.alice, finalize=True)
    assert _curation(client.get(f"/api/traces/{at_once}", headers=keys.alice).json()) == EXPECTED

    client.put(
        "/api/developers/alice/consent",
        json={"licence": "CC-BY-4.0", "external_use": True},
        headers=keys.admin,
    )
    rows = [json.loads(line) for line in client.get("/api/export", headers=keys.reviewer).text.splitlines()]
    assert [_curation(row) for row in rows] == [EXPECTED, EXPECTED]
    parquet = client.get("/api/export", params={"format": "parquet"}, headers=keys.reviewer)
    table = pq.read_table(io.BytesIO(parquet.content))
    curation = table.column("curation").to_pylist()[0]
    assert curation["active_time_s"] == 1120.1 and curation["test_runs"] == 3
    assert curation["notes"]["observation"] == 1 and curation["languages"] == ["Python", "TypeScript"]
    assert curation["files"] == EXPECTED["files"]


def test_active_gap_setting_changes_the_threshold(settings, database) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from bugtrail.api.app import create_app
    from bugtrail.auth.keys import create_key

    with database.scope() as s:
        _, key = create_key(s, "dana", "developer")
    wide = settings.model_copy(update={"active_gap_s": 1500.0})
    with TestClient(create_app(wide, database)) as client:
        trace_id = _create(client, {"Authorization": f"Bearer {key}"}, finalize=True)
        document = client.get(f"/api/traces/{trace_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert document["curation"]["active_time_s"] == 2320.0 and document["curation"]["active_gap_s"] == 1500.0


def test_traces_stored_before_curation_get_it_on_read_and_by_backfill(
    client, keys, database, settings, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from bugtrail.cli.app import app
    from bugtrail.db.models import Trace

    with database.scope() as s:
        old = add_trace(s, index=0, developer_id="alice")  # finalized, curation column empty
        pending = add_trace(s, index=1, developer_id="alice", status="pending", qa=None)
        add_consent(s, "alice")
    on_read = client.get(f"/api/traces/{old}", headers=keys.alice).json()["curation"]
    assert on_read["events"] == 5 and on_read["test_runs"] == 2 and on_read["test_runs_failed"] == 1
    assert (
        on_read["files"] == ["calc.py"] and on_read["lines_added"] == 1 and on_read["languages"] == ["Python"]
    )
    assert on_read["notes"]["hypothesis"] == 1 and on_read["time_on_task_s"] == 4.0
    with database.scope(read_only=True) as s:
        assert s.get(Trace, old).curation is None, "a GET stores nothing"
    exported = [
        json.loads(line) for line in client.get("/api/export", headers=keys.reviewer).text.splitlines()
    ]
    assert {row["trace_id"]: row["curation"] for row in exported} == {old: on_read, pending: None}

    monkeypatch.setenv("BUGTRAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUGTRAIL_DATABASE_URL", settings.resolved_database_url)
    result = CliRunner().invoke(app, ["curation", "backfill", "--batch", "1"])
    assert result.exit_code == 0 and "curation stored on 1 traces" in result.output, result.output
    with database.scope(read_only=True) as s:
        stored = s.get(Trace, old).curation
        assert stored is not None and stored["events"] == 5 and s.get(Trace, pending).curation is None
    assert client.get(f"/api/traces/{old}", headers=keys.alice).json()["curation"] == on_read
    again = CliRunner().invoke(app, ["curation", "backfill"])
    assert again.exit_code == 0 and "curation stored on 0 traces" in again.output
    recomputed = CliRunner().invoke(app, ["curation", "backfill", "--recompute"])
    assert recomputed.exit_code == 0 and "curation stored on 1 traces" in recomputed.output


def test_dashboard_trace_page_shows_curation_and_licence(client, keys) -> None:  # type: ignore[no-untyped-def]
    trace_id = _create(client, keys.alice, finalize=True)
    form = client.get("/dashboard/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    login = client.post(
        "/dashboard/login", data={"api_key": keys.raw["admin"], "csrf_token": token}, follow_redirects=False
    )
    assert login.status_code == 303, login.text
    page = client.get(f"/dashboard/traces/{trace_id}")
    assert page.status_code == 200
    html = page.text
    assert 'id="curation"' in html
    assert 'id="curation-active">18 min 40 s<' in html and 'id="curation-time-on-task">38 min 40 s<' in html
    assert 'id="curation-test-runs">3 (2 failed)<' in html
    assert "Python, TypeScript" in html and 'id="trace-licence">internal' in html


def test_hostile_events_give_bounded_exact_curation(client, keys) -> None:  # type: ignore[no-untyped-def]
    """A 2 MB diff, a binary patch with control bytes, timestamps in other zones and out of order."""
    huge = "--- a/gen/table.py\n+++ b/gen/table.py\n@@ -0,0 +1,100000 @@\n" + "+x = 1\n" * 100_000
    binary = "diff --git a/logo.png b/logo.png\nGIT binary patch\nliteral 3\nK\x01\x02\x7f\ufffd\n"
    events = [
        {
            "type": "edit",
            "timestamp": "2026-03-01T10:00:00+14:00",
            "details": {"file": "gen/table.py", "diff": huge},
        },
        {
            "type": "edit",
            "timestamp": "2026-02-28T19:00:00Z",
            "details": {"file": "logo.png", "diff": binary},
        },
        {
            "type": "command",
            "timestamp": "2026-02-27T21:00:00-12:00",
            "details": {"command": "cargo test", "exit_code": 101},
        },
        {
            "type": "reasoning",
            "timestamp": "1999-12-31T23:59:59Z",
            "details": {"text": "y2k?", "reasoning_type": "alternative"},
        },
    ]
    body = {"repo_url": "https://github.com/example/gen", "bug_description": "x", "events": events}
    created = client.post("/api/traces", params={"finalize": True}, json=body, headers=keys.alice)
    assert created.status_code == 201, created.text
    curation = client.get(f"/api/traces/{created.json()['trace_id']}", headers=keys.alice).json()["curation"]
    # Server order: 1999 (seq 3), 2026-02-28T09:00Z (seq 2, the command), 19:00Z (seq 1), 20:00Z (seq 0).
    assert curation["started_at"] == "1999-12-31T23:59:59Z" and curation["ended_at"] == "2026-02-28T20:00:00Z"
    assert curation["out_of_order_events"] == 3
    assert curation["active_time_s"] == 0.0  # every gap is hours long
    assert (curation["lines_added"], curation["lines_removed"], curation["binary_edits"]) == (100_000, 0, 1)
    assert curation["files"] == ["gen/table.py", "logo.png"] and curation["languages"] == ["Python"]
    assert (curation["test_runs"], curation["test_runs_failed"], curation["notes"]["alternative"]) == (
        1,
        1,
        1,
    )
