"""The API key cache through the API: a revoke in this process takes effect at once; one committed
elsewhere (another API process, `bugtrail keys revoke`) within the TTL; a key created elsewhere works at
once."""

from __future__ import annotations

import time

import pytest

from bugtrail.auth.keys import create_key, revoke


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"auth_cache_ttl_s": 1.0})


def _append_status(client, headers: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    body = {"repo_url": "https://github.com/a/b", "bug_description": "x"}
    return int(client.post("/api/traces", json=body, headers=headers).status_code)


def test_revoke_through_the_api_is_immediate(client, keys) -> None:  # type: ignore[no-untyped-def]
    assert _append_status(client, keys.alice) == 201  # alice's key is now cached
    assert client.get("/api/whoami", headers=keys.alice).status_code == 200
    key_id = next(
        k["id"] for k in client.get("/api/keys", headers=keys.admin).json() if k["developer_id"] == "alice"
    )
    assert client.delete(f"/api/keys/{key_id}", headers=keys.admin).status_code == 200
    assert _append_status(client, keys.alice) == 401
    assert client.get("/api/whoami", headers=keys.alice).status_code == 401


def test_a_revoke_elsewhere_is_honoured_within_the_ttl(client, keys, database) -> None:  # type: ignore[no-untyped-def]
    assert _append_status(client, keys.bob) == 201
    with database.scope() as session:  # as `bugtrail keys revoke` or another API process would
        revoked = revoke(session, keys.raw["bob"][:12])
    assert revoked.revoked_at is not None
    deadline = time.monotonic() + 1.0 + 0.5
    while _append_status(client, keys.bob) != 401:
        assert time.monotonic() < deadline, "a revoked key was still accepted after the cache TTL"
        time.sleep(0.05)
    assert client.get("/api/whoami", headers=keys.bob).status_code == 401


def test_a_key_created_elsewhere_works_at_once(client, keys, database) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/api/whoami", headers={"Authorization": "Bearer btk_not-yet"}).status_code == 401
    with database.scope() as session:
        _, key = create_key(session, "carol", "developer")
    assert _append_status(client, {"Authorization": f"Bearer {key}"}) == 201
