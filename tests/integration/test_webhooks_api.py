"""Webhook management API (admin only) and CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from bugtrail.webhooks import enqueue_event


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allow_private": ["127.0.0.1"]})


def test_admin_registers_lists_and_removes(client, keys, database):
    body = {"url": "http://127.0.0.1:9/hook", "events": ["trace.finalized", "qa.failed"]}
    assert client.post("/api/webhooks", json=body, headers=keys.reviewer).status_code == 403
    created = client.post("/api/webhooks", json=body, headers=keys.admin)
    assert created.status_code == 201
    hook = created.json()
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["qa.failed", "trace.finalized"]
    listed = client.get("/api/webhooks", headers=keys.admin).json()
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]

    with database.scope() as s:
        enqueue_event(s, "qa.failed", {"trace_id": "x"})
    deliveries = client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=keys.admin).json()
    assert [(d["event"], d["state"], d["attempts"]) for d in deliveries] == [("qa.failed", "pending", 0)]

    assert client.delete(f"/api/webhooks/{hook['id']}", headers=keys.admin).status_code == 204
    assert client.get("/api/webhooks", headers=keys.admin).json() == []
    assert client.delete(f"/api/webhooks/{hook['id']}", headers=keys.admin).status_code == 404


def test_refused_urls_and_unknown_events(client, keys):
    for url in ("http://127.0.0.2/hook", "http://10.0.0.1/", "http://169.254.169.254/"):
        response = client.post(
            "/api/webhooks", json={"url": url, "events": ["qa.completed"]}, headers=keys.admin
        )
        assert response.status_code == 422 and "refused" in response.json()["error"]
    response = client.post(
        "/api/webhooks", json={"url": "http://127.0.0.1/", "events": ["nope"]}, headers=keys.admin
    )
    assert response.status_code == 422


def test_cli_add_list_deliveries_remove(settings, database, monkeypatch):
    from bugtrail.cli.app import app

    monkeypatch.setenv("BUGTRAIL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUGTRAIL_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("BUGTRAIL_WEBHOOK_ALLOW_PRIVATE", "127.0.0.1")
    runner = CliRunner()
    added = runner.invoke(app, ["webhooks", "add", "http://127.0.0.1:9/h", "-e", "qa.completed"])
    assert added.exit_code == 0, added.output
    assert "secret: whsec_" in added.output
    webhook_id = added.output.split()[1].rstrip(":")
    listed = runner.invoke(app, ["webhooks", "list"])
    assert "http://127.0.0.1:9/h" in listed.output
    with database.scope() as s:
        enqueue_event(s, "qa.completed", {"trace_id": "y"})
    shown = runner.invoke(app, ["webhooks", "deliveries", webhook_id])
    assert "qa.completed\tpending" in shown.output
    refused = runner.invoke(app, ["webhooks", "add", "http://10.0.0.1/h"])
    assert refused.exit_code == 1
    assert runner.invoke(app, ["webhooks", "remove", webhook_id]).exit_code == 0
    assert runner.invoke(app, ["webhooks", "remove", webhook_id]).exit_code == 1


def test_finalize_through_the_api_delivers_a_signed_trace_finalized(client, keys, database, settings):
    """End to end: POST a trace, finalize it, a worker delivers a signed webhook to 127.0.0.1."""
    import json
    from pathlib import Path

    from bugtrail.tasks import DELIVERY_KINDS, build_worker
    from bugtrail.webhooks import verify_signature
    from tests.support.receivers import Receiver

    receiver = Receiver()
    try:
        hook = client.post(
            "/api/webhooks", json={"url": receiver.url, "events": ["trace.finalized"]}, headers=keys.admin
        ).json()
        seed = json.loads((Path(__file__).parents[2] / "examples" / "seed_trace.json").read_text())
        trace_id = client.post("/api/traces", json=seed, headers=keys.alice).json()["trace_id"]
        assert client.post(f"/api/traces/{trace_id}/finalize", headers=keys.alice).status_code == 202
        assert build_worker(settings, database, DELIVERY_KINDS).run_pending() == 1
        [request] = receiver.requests
        headers = {k.lower(): v for k, v in request["headers"].items()}
        verify_signature(hook["secret"], headers["x-bugtrail-signature"], request["body"])
        body = json.loads(request["body"])
        assert body["event"] == "trace.finalized" and body["data"]["trace_id"] == trace_id
        deliveries = client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=keys.admin).json()
        assert deliveries[0]["state"] == "delivered" and deliveries[0]["last_status_code"] == 200
    finally:
        receiver.close()
