"""`GET /healthz`, answered by the outermost middleware: a liveness probe that costs microseconds.

Liveness says only "this process serves HTTP": no database, no routing, no dependencies, a body built once.
Readiness (`GET /readyz`, a route in api/app.py) is the probe that touches the database.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

LIVENESS_PATH = "/healthz"
_PROBE = frozenset({"GET", "HEAD"})


class LivenessProbe:
    def __init__(self, app: ASGIApp, version: str, database: str) -> None:
        self.app = app
        body = orjson.dumps({"status": "ok", "version": version, "database": database})
        self._body = body
        self._start = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LIVENESS_PATH or scope["method"] not in _PROBE:
            await self.app(scope, receive, send)
            return
        await send(self._start)
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else self._body})
