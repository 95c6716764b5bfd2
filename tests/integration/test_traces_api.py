"""The ingestion API on SQLite and PostgreSQL: round trips, incremental appends, idempotency, ordering."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.traces import SEED, event, reasoning, seed


def test_seed_trace_round_trips(client, keys) -> None:
    created = client.post("/api/traces", json=seed(), headers=keys.alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "pending" and body["event_count"] == 4 and body["created"] is True

    got = client.get(f"/api/traces/{body['trace_id']}", headers=keys.alice).json()
    for field in ("developer_id", "repo_url", "bug_description", "base_commit", "test_command"):
        assert got[field] == SEED[field]
    assert got["qa_results"] is None
    assert [e["seq"] for e in got["events"]] == [1, 2, 3, 4]
    for sent, stored in zip(SEED["events"], got["events"], strict=True):
        assert stored["type"] == sent["type"]
        assert stored["timestamp"].replace("Z", "+00:00") == sent["timestamp"]
        for key, value in sent["details"].items():
            assert stored["details"][key] == value
        uuid.UUID(stored["event_id"])


def test_events_come_back_in_chronological_order_then_arrival(client, keys) -> None:
    trace_id = client.post("/api/traces", json=seed(events=[]), headers=keys.alice).json()["trace_id"]
    late = reasoning("2026-11-26T10:00:00+00:00", "late")
    early = reasoning("2026-11-26T11:00:00+02:00", "early: 09:00 UTC")
    same_a = reasoning("2026-11-26T09:30:00Z", "same time, first")
    same_b = reasoning("2026-11-26T09:30:00Z", "same time, second")
    for ev in (late, early, same_a, same_b):
        assert client.post(f"/api/traces/{trace_id}/events", json=ev, headers=keys.alice).status_code == 200
    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert [e["details"]["text"] for e in got["events"]] == [
        "early: 09:00 UTC",
        "same time, first",
        "same time, second",
        "late",
    ]
    assert got["events"][0]["timestamp"] == "2026-11-26T11:00:00+02:00"  # the offset as sent


def test_incremental_batches_resend_and_finalize(client, keys) -> None:
    trace_id = client.post("/api/traces", json=seed(events=[]), headers=keys.alice).json()["trace_id"]
    batch1 = {"events": [reasoning(f"2026-11-26T09:0{i}:00Z", f"note {i}") for i in range(3)]}
    batch2 = {"events": [reasoning(f"2026-11-26T09:1{i}:00Z", f"note {i + 3}") for i in range(3)]}
    first = client.post(f"/api/traces/{trace_id}/events", json=batch1, headers=keys.alice).json()
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    again = client.post(f"/api/traces/{trace_id}/events", json=batch1, headers=keys.alice).json()
    assert (again["accepted"], again["duplicates"], again["event_count"]) == (0, 3, 3)
    mixed = {"events": batch1["events"][1:] + batch2["events"]}
    result = client.post(f"/api/traces/{trace_id}/events", json=mixed, headers=keys.alice).json()
    assert (result["accepted"], result["duplicates"], result["event_count"]) == (3, 2, 6)

    finalized = client.post(f"/api/traces/{trace_id}/finalize", headers=keys.alice)
    assert finalized.status_code == 202 and finalized.json()["status"] == "queued"
    assert finalized.json()["job_id"] is not None
    twice = client.post(f"/api/traces/{trace_id}/finalize", headers=keys.alice).json()
    assert twice["already_finalized"] is True and twice["job_id"] is None

    late = client.post(
        f"/api/traces/{trace_id}/events", json=reasoning("2026-11-26T12:00:00Z"), headers=keys.alice
    )
    assert late.status_code == 409 and "finalized" in late.json()["error"]
    # A resend of already-stored events after finalize is still harmless.
    resend = client.post(f"/api/traces/{trace_id}/events", json=batch2, headers=keys.alice)
    assert resend.status_code == 200 and resend.json()["duplicates"] == 3

    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert [e["details"]["text"] for e in got["events"]] == [f"note {i}" for i in range(6)]
    assert got["status"] == "queued"


def test_finalize_creates_exactly_one_job(client, keys, database) -> None:
    from bugtrail.jobs.repository import count_jobs

    trace_id = client.post("/api/traces?finalize=true", json=seed(), headers=keys.alice).json()["trace_id"]
    client.post(f"/api/traces/{trace_id}/finalize", headers=keys.alice)
    client.post("/api/traces?finalize=true", json=seed(trace_id=trace_id), headers=keys.alice)
    with database.scope(read_only=True) as session:
        assert count_jobs(session, trace_id) == 1


def test_conflicting_event_id_is_409_and_stores_nothing(client, keys) -> None:
    trace_id = client.post("/api/traces", json=seed(events=[]), headers=keys.alice).json()["trace_id"]
    original = reasoning("2026-11-26T09:00:00Z", "original")
    client.post(f"/api/traces/{trace_id}/events", json=original, headers=keys.alice)
    changed = {**original, "details": {**original["details"], "text": "changed"}}
    fresh = reasoning("2026-11-26T09:05:00Z", "would be new")
    response = client.post(
        f"/api/traces/{trace_id}/events", json={"events": [fresh, changed]}, headers=keys.alice
    )
    assert response.status_code == 409 and original["event_id"] in response.json()["error"]
    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert [e["details"]["text"] for e in got["events"]] == ["original"]


def test_create_with_existing_trace_id(client, keys) -> None:
    trace_id = str(uuid.uuid4())
    assert client.post("/api/traces", json=seed(trace_id=trace_id), headers=keys.alice).status_code == 201
    same = client.post("/api/traces", json=seed(trace_id=trace_id), headers=keys.alice)
    assert same.status_code == 200 and same.json()["created"] is False and same.json()["event_count"] == 4
    different = client.post(
        "/api/traces", json=seed(trace_id=trace_id, bug_description="other"), headers=keys.alice
    )
    assert different.status_code == 409
    assert (
        client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["bug_description"]
        == SEED["bug_description"]
    )


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.update(type="keystroke"), "events[1]"),
        (lambda e: e["details"].update(reasoning_type="musing"), "events[1].details.reasoning_type"),
        (lambda e: e.update(timestamp="2026-11-26T09:00:00"), "events[1].timestamp"),
        (lambda e: e["details"].update(text=42), "events[1].details.text"),
        (lambda e: e["details"].update(confidence="certain"), "events[1].details.confidence"),
    ],
)
def test_bad_events_are_422_naming_index_and_field(client, keys, mutate, field) -> None:
    body = {"events": [reasoning("2026-11-26T09:00:00Z"), reasoning("2026-11-26T09:01:00Z")]}
    mutate(body["events"][1])
    trace_id = client.post("/api/traces", json=seed(events=[]), headers=keys.alice).json()["trace_id"]
    response = client.post(f"/api/traces/{trace_id}/events", json=body, headers=keys.alice)
    assert response.status_code == 422
    assert field in response.json()["error"], response.json()
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["event_count"] == 0


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.py", "src/../../x", "C:/win.py", ""])
def test_edit_paths_must_be_repo_relative(client, keys, path) -> None:
    body = seed(events=[event("edit", "2026-11-26T09:00:00Z", file=path, diff="")])
    response = client.post("/api/traces", json=body, headers=keys.alice)
    assert response.status_code == 422 and "events[0].details.file" in response.json()["error"]
    assert client.get("/api/traces", headers=keys.alice).json()["items"] == []


def test_unknown_detail_keys_are_kept(client, keys) -> None:
    ev = event("edit", "2026-11-26T09:00:00Z", file="a.py", diff="", binary=True, editor="vim")
    trace_id = client.post("/api/traces", json=seed(events=[ev]), headers=keys.alice).json()["trace_id"]
    details = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["events"][0]["details"]
    assert details["binary"] is True and details["editor"] == "vim"


def test_malformed_json_is_400_with_json_error(client, keys) -> None:
    response = client.post(
        "/api/traces", content=b'{"repo_url": ', headers={**keys.alice, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed JSON body"


def test_bad_base_commit_and_missing_fields(client, keys) -> None:
    response = client.post("/api/traces", json=seed(base_commit="HEAD"), headers=keys.alice)
    assert response.status_code == 422 and "base_commit" in response.json()["error"]
    body = seed()
    del body["repo_url"]
    response = client.post("/api/traces", json=body, headers=keys.alice)
    assert response.status_code == 422 and "repo_url" in response.json()["error"]


def test_list_filters_and_cursor_pagination(client, keys) -> None:
    ids = []
    for i in range(7):
        body = seed(events=[], repo_url=f"https://github.com/example/repo{i % 2}")
        ids.append(client.post("/api/traces", json=body, headers=keys.alice).json()["trace_id"])
    assert (
        client.post("/api/traces", json=seed(events=[], developer_id="bob"), headers=keys.bob).status_code
        == 201
    )
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/traces", params=params, headers=keys.alice).json()
        assert all("events" not in item for item in page["items"])
        seen += [item["trace_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    repo0 = client.get(
        "/api/traces", params={"repo_url": "https://github.com/example/repo0"}, headers=keys.reviewer
    ).json()["items"]
    assert len(repo0) == 4
    assert len(client.get("/api/traces", headers=keys.reviewer).json()["items"]) == 8
    assert (
        len(client.get("/api/traces", params={"developer_id": "bob"}, headers=keys.reviewer).json()["items"])
        == 1
    )
    future = client.get(
        "/api/traces", params={"created_after": "2100-01-01T00:00:00Z"}, headers=keys.reviewer
    ).json()["items"]
    assert future == []
    assert client.get("/api/traces", params={"cursor": "garbage!"}, headers=keys.alice).status_code == 400
    assert client.get("/api/traces", params={"status": "nope"}, headers=keys.alice).status_code == 400


def test_healthz_and_docs(client) -> None:
    assert client.get("/healthz").json()["status"] == "ok"  # liveness, answered before routing
    assert client.head("/healthz").status_code == 200
    ready = client.get("/readyz").json()  # readiness: the database answered
    assert ready["status"] == "ready" and ready["database"] in ("sqlite", "postgresql")
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/traces/{trace_id}/events" in schema["paths"]


def test_concurrent_identical_creates_and_appends(client, keys) -> None:
    from concurrent.futures import ThreadPoolExecutor

    trace_id = str(uuid.uuid4())
    body = seed(trace_id=trace_id)
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(
            pool.map(
                lambda _: client.post("/api/traces", json=body, headers=keys.alice).status_code, range(8)
            )
        )
    assert statuses == [200] * 7 + [201]
    batches = [{"events": [reasoning(f"2026-11-26T10:{i:02d}:00Z", f"n{i}")]} for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda b: client.post(f"/api/traces/{trace_id}/events", json=b, headers=keys.alice),
                batches * 2,
            )
        )
    assert all(r.status_code == 200 for r in results)
    assert sum(r.json()["accepted"] for r in results) == 16
    got = client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()
    assert got["event_count"] == 20 and sorted(e["seq"] for e in got["events"]) == list(range(1, 21))
