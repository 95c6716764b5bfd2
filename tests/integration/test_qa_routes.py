"""QA over HTTP without Docker: rerun rules, history visibility, webhook events from the pipeline."""

from __future__ import annotations

from typing import Any

from bugtrail.db.engine import Database
from bugtrail.db.models import WebhookDelivery
from bugtrail.tasks import build_worker

BODY: dict[str, Any] = {
    "repo_url": "https://github.com/example/project",
    "bug_description": "a bug",
    "events": [
        {
            "type": "reasoning",
            "timestamp": "2026-11-26T09:00:00+00:00",
            "details": {"text": "maybe the cache is stale", "reasoning_type": "hypothesis"},
        }
    ],
}


def test_rerun_needs_a_finalized_visible_trace_and_a_reviewer(client, keys) -> None:
    missing = client.post("/api/traces/00000000-0000-4000-8000-000000000000/qa/rerun", headers=keys.admin)
    assert missing.status_code == 404 and missing.json()["error"]
    trace_id = client.post("/api/traces", json=BODY, headers=keys.alice).json()["trace_id"]
    assert client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.alice).status_code == 403
    pending = client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.reviewer)
    assert pending.status_code == 409 and "not finalized" in pending.json()["error"]


def test_history_is_visible_to_the_owner_only_and_rerun_adds_to_it(
    client, keys, settings, database: Database
) -> None:
    trace_id = client.post("/api/traces?finalize=true", json=BODY, headers=keys.alice).json()["trace_id"]
    worker = build_worker(settings, database)
    assert worker.run_once()
    assert client.get(f"/api/traces/{trace_id}/qa/results", headers=keys.bob).status_code == 404
    first = client.get(f"/api/traces/{trace_id}/qa/results", headers=keys.alice).json()
    assert [item["outcome"] for item in first] == ["skipped"]

    rerun = client.post(f"/api/traces/{trace_id}/qa/rerun", headers=keys.reviewer)
    assert rerun.status_code == 202 and rerun.json()["already_queued"] is False
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["status"] == "queued"
    assert worker.run_once()
    history = client.get(f"/api/traces/{trace_id}/qa/results", headers=keys.reviewer).json()
    assert len(history) == 2 and history[0]["latest"] and not history[1]["latest"]
    trace = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert trace["status"] == "completed"
    assert trace["qa_results"]["qa_result_id"] == history[0]["qa_result_id"]
    assert "base_commit" in trace["qa_results"]["error"]


def test_pipeline_emits_qa_completed_webhook_event(client, keys, settings, database: Database) -> None:
    from bugtrail.webhooks import repository as hooks

    with database.scope() as session:
        hooks.add_webhook(
            session, "https://hooks.example.com/x", "s" * 20, ["qa.completed", "qa.failed"], "t"
        )
    trace_id = client.post("/api/traces?finalize=true", json=BODY, headers=keys.alice).json()["trace_id"]
    assert build_worker(settings, database).run_once()
    with database.scope() as session:
        deliveries = session.query(WebhookDelivery).all()
        assert [d.event for d in deliveries] == ["qa.completed"]
        assert deliveries[0].payload["trace_id"] == trace_id
        assert deliveries[0].payload["outcome"] == "skipped"
