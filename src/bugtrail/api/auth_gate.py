"""Pure ASGI middleware: a request that carries a body to /api/ must present a valid API key before a byte of
that body is read. An anonymous 29 MiB upload used to be read and parsed (6 s, ~250 MiB each) before its 401.

The key is checked against the process's key cache (auth/cache.py) first; on a miss it is looked up in a
read-only transaction (never SQLite's write lock). The principal is left in the request state for the
route (api/deps.py reuses it, so the key is looked up once).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from bugtrail.api.deps import db_gate, key_cache
from bugtrail.api.errors import storage_error_response
from bugtrail.auth.keys import Principal, find_active
from bugtrail.db.engine import Database

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def bearer_key(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin-1").partition(" ")
            return (key.strip() or None) if scheme.lower() == "bearer" else None
    return None


def lookup_principal(database: Database, key: str) -> Principal | None:
    with database.scope(read_only=True) as session:
        return find_active(session, key)


class ApiKeyGate:
    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _BODY_METHODS
            or not scope["path"].startswith(self.prefix)
        ):
            await self.app(scope, receive, send)
            return
        key = bearer_key(scope)
        if key is None:
            await _unauthorized(
                send, "missing API key", {"hint": "send the header 'Authorization: Bearer <key>'"}
            )
            return
        app = scope["app"]
        cache = key_cache(app)
        principal = cache.get(key)
        if principal is None:
            try:
                started = cache.started()
                async with db_gate(app).admit(write=False):
                    found = await run_in_threadpool(lookup_principal, app.state.database, key)
                principal = cache.remember(key, found, started)
            except OperationalError as exc:  # outside FastAPI's handlers: answer as they would (503 / 507)
                await storage_error_response(exc)(scope, receive, send)
                return
        if principal is None:
            await _unauthorized(send, "API key is unknown or revoked", None)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, error: str, detail: Any) -> None:
    # The body is never read: the connection is closed rather than drained.
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b"Bearer"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
