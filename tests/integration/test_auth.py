"""Keys and roles: no key, bad key, revoked key, isolation between developers, admin key management."""

from __future__ import annotations

import uuid

from tests.support.traces import reasoning, seed


def test_every_api_route_needs_a_key(client) -> None:
    trace_id = uuid.uuid4()
    for method, path in [
        ("get", "/api/traces"),
        ("post", "/api/traces"),
        ("get", f"/api/traces/{trace_id}"),
        ("post", f"/api/traces/{trace_id}/events"),
        ("post", f"/api/traces/{trace_id}/finalize"),
        ("get", "/api/whoami"),
        ("get", "/api/keys"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path, response.status_code)
        assert "Bearer" in response.json()["detail"]["hint"]


def test_revoked_key_is_refused(client, keys) -> None:
    assert client.get("/api/whoami", headers=keys.alice).json() == {
        "developer_id": "alice",
        "role": "developer",
    }
    listed = client.get("/api/keys", headers=keys.admin).json()
    alice_id = next(k["id"] for k in listed if k["developer_id"] == "alice")
    assert client.delete(f"/api/keys/{alice_id}", headers=keys.admin).status_code == 200
    assert client.get("/api/whoami", headers=keys.alice).status_code == 401


def test_developers_cannot_see_each_others_traces(client, keys) -> None:
    trace_id = client.post("/api/traces", json=seed(), headers=keys.alice).json()["trace_id"]
    assert client.get(f"/api/traces/{trace_id}", headers=keys.bob).status_code == 404
    assert (
        client.post(
            f"/api/traces/{trace_id}/events", json=reasoning("2026-11-26T10:00:00Z"), headers=keys.bob
        ).status_code
        == 404
    )
    assert client.post(f"/api/traces/{trace_id}/finalize", headers=keys.bob).status_code == 404
    assert client.get("/api/traces", headers=keys.bob).json()["items"] == []
    assert client.get("/api/traces", params={"developer_id": "alice"}, headers=keys.bob).status_code == 403
    # Reviewers read everything but cannot write to a developer's trace.
    assert client.get(f"/api/traces/{trace_id}", headers=keys.reviewer).status_code == 200
    assert (
        client.post(
            f"/api/traces/{trace_id}/events", json=reasoning("2026-11-26T10:00:00Z"), headers=keys.reviewer
        ).status_code
        == 403
    )
    assert client.get(f"/api/traces/{trace_id}", headers=keys.alice).json()["event_count"] == 4


def test_body_developer_id_must_match_key(client, keys) -> None:
    response = client.post("/api/traces", json=seed(developer_id="bob"), headers=keys.alice)
    assert response.status_code == 403 and "developer_id" in response.json()["error"]
    body = seed()
    del body["developer_id"]
    created = client.post("/api/traces", json=body, headers=keys.bob).json()
    assert client.get(f"/api/traces/{created['trace_id']}", headers=keys.bob).json()["developer_id"] == "bob"


def test_only_admins_manage_keys(client, keys) -> None:
    assert client.get("/api/keys", headers=keys.reviewer).status_code == 403
    assert client.post("/api/keys", json={"developer_id": "carol"}, headers=keys.alice).status_code == 403
    created = client.post(
        "/api/keys", json={"developer_id": "carol", "role": "developer"}, headers=keys.admin
    )
    assert created.status_code == 201
    carol = {"Authorization": f"Bearer {created.json()['key']}"}
    assert client.get("/api/whoami", headers=carol).json()["developer_id"] == "carol"
    assert all("key" not in k for k in client.get("/api/keys", headers=keys.admin).json())
