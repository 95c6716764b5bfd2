"""api/fast_append.py answers `POST /api/traces/{id}/events` and `POST /api/traces` in front of FastAPI:
every answer must be the one the declared FastAPI route gives (same status, same error body), on SQLite
and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bugtrail.api.app import create_app
from bugtrail.api.fast_append import FastAppend
from tests.support.traces import reasoning, seed


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"max_events_per_batch": 3})


@pytest.fixture
def route_only(settings, database):  # type: ignore[no-untyped-def]
    """The same app without the fast layer: the FastAPI route answers."""
    app = create_app(settings, database)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not FastAppend]
    with TestClient(app) as client:
        yield client


def _new_trace(client, developer: str, headers: dict[str, str]) -> str:  # type: ignore[no-untyped-def]
    return str(
        client.post("/api/traces", json=seed(events=[], developer_id=developer), headers=headers).json()[
            "trace_id"
        ]
    )


def _layers(client) -> int:  # type: ignore[no-untyped-def]
    """How many FastAppend layers the app's built middleware stack holds."""
    count, layer = 0, client.app.middleware_stack
    while layer is not None:
        count += isinstance(layer, FastAppend)
        layer = getattr(layer, "app", None)
    return count


def test_fast_append_answers_exactly_as_the_route(client, route_only, keys) -> None:  # type: ignore[no-untyped-def]
    trace_id = client.post(
        "/api/traces", json=seed(events=[], developer_id="alice"), headers=keys.alice
    ).json()["trace_id"]
    bobs = client.post("/api/traces", json=seed(events=[], developer_id="bob"), headers=keys.bob).json()[
        "trace_id"
    ]
    stored = reasoning("2026-11-26T10:00:00+00:00", text="kept")
    assert client.post(f"/api/traces/{trace_id}/events", json=stored, headers=keys.alice).status_code == 200
    url = f"/api/traces/{trace_id}/events"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("/api/traces/not-a-uuid/events", {"json": stored}),
        (f"/api/traces/{uuid.uuid4()}/events", {"json": stored}),
        (f"/api/traces/{bobs}/events", {"json": stored}),
        (url, {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        (url, {"content": b"<xml/>", "headers": {"content-type": "text/xml"}}),
        (url, {"content": b""}),
        (url, {"json": {"type": "edit", "timestamp": "2026-11-26T10:00:00Z", "details": {"file": "../x"}}}),
        (url, {"json": {"events": [stored, {"type": "nope"}]}}),
        (url, {"json": {**stored, "details": {"text": "other", "reasoning_type": "plan"}}}),
        (url, {"json": {"events": [reasoning("2026-11-26T10:00:01+00:00") for _ in range(4)]}}),
        (url, {"json": stored}),  # an identical retry: 200, a duplicate
    ]
    for path, request in cases:
        headers = {**keys.alice, **request.pop("headers", {})}
        fast = client.post(path, headers=headers, **request)
        routed = route_only.post(path, headers=headers, **request)
        assert fast.status_code == routed.status_code, (path, fast.text, routed.text)
        assert fast.json() == routed.json(), (path, fast.text, routed.text)
    assert [fast.status_code for fast in [client.post(p, headers=keys.alice, **r) for p, r in cases[:2]]] == [
        422,
        404,
    ]


def test_fast_create_answers_exactly_as_the_route(client, route_only, keys) -> None:  # type: ignore[no-untyped-def]
    taken = seed(events=[], developer_id="alice", trace_id=str(uuid.uuid4()))
    assert client.post("/api/traces", json=taken, headers=keys.alice).status_code == 201
    cases: list[tuple[dict[str, str], dict[str, Any]]] = [
        (keys.alice, {"json": taken}),  # an identical retry: 200
        (keys.alice, {"json": {**taken, "bug_description": "other"}}),  # 409
        (keys.bob, {"json": {**taken, "developer_id": "bob"}}),  # someone else's id: 404
        (keys.bob, {"json": seed(events=[], developer_id="alice")}),  # 403: another developer's id
        (keys.alice, {"json": {**taken, "repo_url": 7}}),  # 422
        (keys.alice, {"json": {**taken, "environment": {"python": "3"}}}),  # 422: unknown field
        (keys.alice, {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        (keys.alice, {"content": b"<xml/>", "headers": {"content-type": "text/xml"}}),
        (keys.alice, {"content": b""}),
        (
            keys.alice,
            {"json": seed(events=[reasoning("2026-11-26T10:00:00+00:00") for _ in range(4)])},
        ),  # 413
    ]
    for key, request in cases:
        headers = {**key, **request.pop("headers", {})}
        fast = client.post("/api/traces", headers=headers, **request)
        routed = route_only.post("/api/traces", headers=headers, **request)
        assert fast.status_code == routed.status_code, (request, fast.text, routed.text)
        assert fast.json() == routed.json(), (request, fast.text, routed.text)
    assert [client.post("/api/traces", headers=keys.alice, **r).status_code for _, r in cases[:2]] == [
        200,
        409,
    ]

    # New traces: 201 from both, the same answer but for the id; ?finalize= is left to the FastAPI route.
    def new() -> dict[str, Any]:
        return seed(
            developer_id="alice", events=[reasoning(f"2026-11-26T10:00:0{i}+00:00") for i in range(2)]
        )

    fast, routed = (c.post("/api/traces", json=new(), headers=keys.alice) for c in (client, route_only))
    assert (fast.status_code, routed.status_code) == (201, 201)
    assert {**fast.json(), "trace_id": None} == {**routed.json(), "trace_id": None}
    assert fast.json()["event_count"] == 2
    final = client.post("/api/traces?finalize=true", json=new(), headers=keys.alice)
    assert (final.status_code, final.json()["status"]) == (201, "queued")
