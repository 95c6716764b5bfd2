"""`POST /api/traces/{trace_id}/events`, the hot ingestion route, answered in front of FastAPI.

Routing, dependency resolution and FastAPI's inner middleware cost about a third of a single-event
append's CPU (docs/benchmarks.md, "Where the time goes"). This pure-ASGI layer sits inside the key gate and
the body limit (so the key was checked and the body is bounded as for every route), does exactly what
the FastAPI route does (`traces.routes.append`) and renders errors with the same handlers
(`api.errors.render_exception`). The FastAPI route stays declared: it documents the endpoint and answers
when this layer is not mounted.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from bugtrail.api.errors import render_exception
from bugtrail.auth.keys import Principal
from bugtrail.traces.routes import append, json_response, path_trace_id

_APPEND_PATH = re.compile(r"/api/traces/([^/]+)/events")


class FastAppend:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _APPEND_PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        principal: Principal | None = scope.get("state", {}).get("principal")
        if match is None or scope["method"] != "POST" or principal is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            trace_id = path_trace_id(match.group(1))
            result = await append(request, trace_id, scope["app"].state.settings, principal)
            response = json_response(result)
        except Exception as exc:  # answered as FastAPI's handlers would (api/errors.py)
            response = render_exception(request, exc)
        await response(scope, receive, send)
