"""finalize?wait= answers with the final status and QA document without loading the trace's events."""

from __future__ import annotations

from bugtrail.db.engine import Database
from bugtrail.traces import repository as repo
from tests.support.traces import seed


def test_finalize_wait_returns_the_outcome_once_terminal(client, keys, database: Database) -> None:  # type: ignore[no-untyped-def]
    trace_id = client.post("/api/traces", json=seed(), headers=keys.alice).json()["trace_id"]
    assert client.post(f"/api/traces/{trace_id}/finalize", headers=keys.alice).status_code == 202
    with database.scope() as session:
        trace = repo.get_trace(session, trace_id)
        assert trace is not None
        trace.status = "completed"  # as a worker would leave it
    answer = client.post(f"/api/traces/{trace_id}/finalize?wait=5", headers=keys.alice)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "completed" and body["already_finalized"] is True and body["qa_results"] is None
