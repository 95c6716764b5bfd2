"""Authorization on every route of create_app, found by enumerating app.routes (so new routes are covered).

- no key, a malformed key, and a revoked key: every /api operation answers 401;
- another developer's key (OWASP API1, object-level access): any operation addressed at alice's objects
  answers 403/404 for bob, never 2xx, and alice's trace is unchanged afterwards; 2xx bodies bob gets
  never contain alice's trace;
- routes outside /api must be in PUBLIC_ROUTES or refuse a request without a key.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import APIRouter

from bugtrail.auth.keys import create_key, revoke
from tests.support.routes import call, fill, operations

# Routes that answer without a key, deliberately. A new public route must be added here, with a reason.
PUBLIC_ROUTES = {
    "/healthz",  # liveness: load balancers and orchestrators
    "/readyz",  # readiness (the database answers): compose health checks
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/dashboard/login",  # the login form itself (POST checks the key and a CSRF token)
    "/dashboard/logout",  # ends the caller's own session (if any); CSRF-checked
}


def valid_event() -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "reasoning",
        "timestamp": "2026-11-26T10:00:00+00:00",
        "details": {"text": "bob was here", "reasoning_type": "hypothesis"},
    }


@pytest.fixture
def alice_trace(client, keys) -> str:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/traces",
        json={
            "repo_url": "https://github.com/alice/project",
            "bug_description": "alice's private bug",
            "events": [valid_event()],
        },
        headers=keys.alice,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["trace_id"])


def test_routes_are_enumerated(app) -> None:  # type: ignore[no-untyped-def]
    ops = operations(app)
    # The enumeration itself must see the core routes; otherwise every check below is vacuous.
    assert ("POST", "/api/traces/{trace_id}/events") in ops
    assert ("GET", "/api/traces/{trace_id}") in ops
    assert not [op for op in ops if op[0] == "?"], f"unclassifiable routes: {ops}"


def credential_failures(client, app, headers: dict[str, str]) -> list[str]:  # type: ignore[no-untyped-def]
    failures = []
    for method, template in operations(app):
        if not template.startswith("/api"):
            continue
        response = call(client, method, fill(template, {}), headers)
        if response.status_code != 401 or "error" not in response.json():
            failures.append(f"{method} {template} -> {response.status_code} {response.text[:120]}")
    return failures


@pytest.mark.parametrize("credential", ["none", "malformed", "unknown", "revoked"])
def test_every_api_operation_refuses_bad_credentials(client, app, keys, database, credential) -> None:  # type: ignore[no-untyped-def]
    headers: dict[str, str] = {}
    if credential == "malformed":
        headers = {"Authorization": "Basic dXNlcjpwYXNz"}
    elif credential == "unknown":
        headers = {"Authorization": "Bearer btk_" + "x" * 43}
    elif credential == "revoked":
        with database.scope() as session:
            row, key = create_key(session, "mallory", "admin")
            revoke(session, str(row.id))
        headers = {"Authorization": f"Bearer {key}"}
    failures = credential_failures(client, app, headers)
    assert not failures, "operations that did not refuse a bad key with 401:\n" + "\n".join(failures)


def test_the_check_catches_a_route_without_auth(client, app) -> None:  # type: ignore[no-untyped-def]
    router = APIRouter(prefix="/api")
    router.add_api_route("/forgot-auth/{trace_id}", lambda trace_id: {"trace_id": trace_id}, methods=["GET"])
    app.include_router(router)
    failures = credential_failures(client, app, {})
    assert len(failures) == 1 and failures[0].startswith("GET /api/forgot-auth/{trace_id} -> 200")


def test_routes_outside_api_are_public_on_purpose(client, app) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for method, template in operations(app):
        if template.startswith("/api") or template in PUBLIC_ROUTES:
            continue
        response = call(client, method, fill(template, {}), {})
        # A page may redirect to a login form; it must not serve content without credentials.
        if response.status_code < 300:
            failures.append(f"{method} {template} -> {response.status_code}")
    assert not failures, "non-API routes that answer without a key (add to PUBLIC_ROUTES on purpose):\n" + (
        "\n".join(failures)
    )


def test_another_developers_objects_are_invisible(client, app, keys, database, alice_trace) -> None:  # type: ignore[no-untyped-def]
    with database.scope() as session:
        alice_key_row, _ = create_key(session, "alice", "developer", label="second key of alice")
        alice_key_id = str(alice_key_row.id)
    values = {"trace_id": alice_trace, "key_id": alice_key_id, "developer_id": "alice"}
    before = client.get(f"/api/traces/{alice_trace}", headers=keys.alice).json()
    failures = []
    for method, template in operations(app):
        if not template.startswith("/api"):
            continue
        path = fill(template, values)
        body = {"events": [valid_event()]} if template.endswith("/events") else None
        response = call(client, method, path, keys.bob, body)
        addresses_alice = any(f"{{{name}" in template for name in values)
        if addresses_alice and response.status_code < 400:
            failures.append(f"{method} {template} -> {response.status_code} for bob on alice's object")
        elif response.status_code < 300 and alice_trace in response.text:
            failures.append(f"{method} {template} -> {response.status_code} leaks alice's trace to bob")
        elif addresses_alice and response.status_code not in (401, 403, 404, 405, 409, 422):
            failures.append(
                f"{method} {template} -> unexpected {response.status_code}: {response.text[:120]}"
            )
    after = client.get(f"/api/traces/{alice_trace}", headers=keys.alice).json()
    assert not failures, "object-level access failures:\n" + "\n".join(failures)
    assert after["event_count"] == before["event_count"] and after["status"] == before["status"]
    assert (
        client.get("/api/whoami", headers={"Authorization": f"Bearer {keys.raw['alice']}"}).status_code == 200
    )
