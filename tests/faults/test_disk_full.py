"""Disk full on the data directory (SQLite on a small tmpfs): 507 with a clear error, recovery when space
returns, without a restart, and nothing acknowledged lost."""

from __future__ import annotations

import uuid

import pytest

from tests.support.server import BugtrailServer, http_json

pytestmark = pytest.mark.slow


def batch(size: int = 50) -> dict[str, object]:
    return {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "type": "command",
                "timestamp": "2026-11-26T10:00:00+00:00",
                # Random text: compresses badly, fills pages quickly.
                "details": {"command": "pytest", "output": uuid.uuid4().hex * 60},
            }
            for _ in range(size)
        ]
    }


def test_disk_full_answers_507_and_recovers(small_filesystem, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = BugtrailServer(small_filesystem.path / "data", log_path=tmp_path / "server.log").start()
    try:
        key = server.create_key("alice")
        trace_id = server.create_trace(key, repo_url="https://github.com/a/b")
        acknowledged = 0
        refused = None
        for _ in range(400):  # 6 MiB fills after a few dozen batches
            status, body = http_json("POST", f"{server.url}/api/traces/{trace_id}/events", batch(), key=key)
            if status == 200:
                acknowledged += body["accepted"]
                continue
            refused = (status, body)
            break
        assert refused is not None, "the filesystem never filled up"
        status, body = refused
        assert status == 507, refused
        assert "storage is full" in body["error"] and "nothing from this request was stored" in body["error"]

        # Still full: the service keeps answering, reads work, writes keep saying 507 (not 500).
        assert (
            http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)[1]["event_count"] == acknowledged
        )
        again = http_json("POST", f"{server.url}/api/traces/{trace_id}/events", batch(), key=key)
        assert again[0] == 507, again

        small_filesystem.resize("64m")  # space returns
        status, body = http_json("POST", f"{server.url}/api/traces/{trace_id}/events", batch(), key=key)
        assert status == 200 and body["accepted"] == 50, body
        acknowledged += 50
        status, body = http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)
        assert status == 200 and body["event_count"] == acknowledged == len(body["events"])
        assert [event["seq"] for event in body["events"]] == list(range(1, acknowledged + 1))
    finally:
        server.stop()
