"""PostgreSQL goes away under a running API (a private instance, stopped like a crash): 503 with a clear
error, a failing health check, and recovery without restarting the API when the database is back."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support.server import BugtrailServer, http_json

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def event() -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "reasoning",
        "timestamp": "2026-11-26T10:00:00+00:00",
        "details": {"text": "still here", "reasoning_type": "observation"},
    }


def test_postgres_outage_is_503_and_the_api_recovers(private_postgres, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = private_postgres.new_database()
    server = BugtrailServer(tmp_path / "data", database_url=url, log_path=tmp_path / "server.log").start()
    try:
        key = server.create_key("alice")
        trace_id = server.create_trace(key, repo_url="https://github.com/a/b")
        assert http_json("POST", f"{server.url}/api/traces/{trace_id}/events", event(), key=key)[0] == 200

        private_postgres.stop("immediate")
        started = time.monotonic()
        status, body = http_json("POST", f"{server.url}/api/traces/{trace_id}/events", event(), key=key)
        assert status == 503, body
        assert "database is unavailable" in body["error"] and body["detail"] == {"retry": "later"}
        assert time.monotonic() - started < 30, "an outage must be reported, not waited out for minutes"
        assert http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)[0] == 503
        ready = http_json("GET", server.url + "/readyz")
        assert ready[0] == 503 and "database" in ready[1]["error"]
        assert http_json("GET", server.url + "/healthz")[0] == 200, "liveness does not depend on the database"

        private_postgres.start()
        deadline = time.monotonic() + 30
        while http_json("GET", server.url + "/readyz")[0] != 200:
            assert time.monotonic() < deadline, "the API did not reconnect"
            time.sleep(0.2)
        status, body = http_json("POST", f"{server.url}/api/traces/{trace_id}/events", event(), key=key)
        assert status == 200 and body["accepted"] == 1, body
        status, body = http_json("GET", f"{server.url}/api/traces/{trace_id}", key=key)
        assert status == 200 and body["event_count"] == 2
    finally:
        server.stop()
        if not _running(private_postgres):
            private_postgres.start()


def _running(pg) -> bool:  # type: ignore[no-untyped-def]
    return pg._ctl("status", check=False).returncode == 0
