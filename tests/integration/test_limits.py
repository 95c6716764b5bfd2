"""Hard limits answer 413 and store nothing; soft limits trim command output head+tail and say so."""

from __future__ import annotations

import pytest

from bugtrail.api.app import create_app
from tests.support.traces import event, reasoning, seed


@pytest.fixture
def small_client(settings, database):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    limited = settings.model_copy(
        update={
            "max_body_bytes": 64 * 1024,
            "max_command_output_bytes": 4096,
            "max_events_per_trace": 5,
            "max_events_per_batch": 4,
        }
    )
    with TestClient(create_app(limited, database)) as client:
        yield client


def test_oversized_body_is_413_and_nothing_stored(small_client, keys) -> None:
    body = seed(events=[reasoning("2026-11-26T09:00:00Z", "x" * 100_000)])
    response = small_client.post("/api/traces", json=body, headers=keys.alice)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert small_client.get("/api/traces", headers=keys.alice).json()["items"] == []


def test_chunked_oversized_body_is_413(small_client, keys) -> None:
    def chunks():  # no Content-Length: the limit must be enforced while streaming
        yield b'{"repo_url": "https://github.com/x/y", "bug_description": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}'

    response = small_client.post(
        "/api/traces", content=chunks(), headers={**keys.alice, "content-type": "application/json"}
    )
    assert response.status_code == 413


def test_too_many_events_is_413_and_atomic(small_client, keys) -> None:
    trace_id = small_client.post("/api/traces", json=seed(events=[]), headers=keys.alice).json()["trace_id"]
    ok = {"events": [reasoning(f"2026-11-26T09:0{i}:00Z") for i in range(4)]}
    assert small_client.post(f"/api/traces/{trace_id}/events", json=ok, headers=keys.alice).status_code == 200
    over = {"events": [reasoning(f"2026-11-26T09:1{i}:00Z") for i in range(2)]}
    response = small_client.post(f"/api/traces/{trace_id}/events", json=over, headers=keys.alice)
    assert response.status_code == 413 and "at most 5 events" in response.json()["error"]
    big_batch = {"events": [reasoning(f"2026-11-26T09:2{i}:00Z") for i in range(5)]}
    assert (
        small_client.post(f"/api/traces/{trace_id}/events", json=big_batch, headers=keys.alice).status_code
        == 413
    )
    assert small_client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["event_count"] == 4


def test_long_command_output_is_kept_head_and_tail(small_client, keys) -> None:
    output = "HEAD-MARK\n" + "middle line\n" * 2000 + "TAIL-MARK\n"
    ev = event(
        "command",
        "2026-11-26T09:00:00Z",
        command="pytest",
        output=output,
        working_directory="/w",
        exit_code=1,
    )
    trace_id = small_client.post("/api/traces", json=seed(events=[ev]), headers=keys.alice).json()["trace_id"]
    details = small_client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"][0]["details"]
    assert details["output_truncated"] is True
    assert details["output_original_bytes"] == len(output.encode())
    assert details["output"].startswith("HEAD-MARK") and details["output"].endswith("TAIL-MARK\n")
    assert len(details["output"].encode()) <= 4096
    assert "bytes omitted" in details["output"]
