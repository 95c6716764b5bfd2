"""The hot ingestion routes, answered in front of FastAPI: `POST /api/traces/{trace_id}/events` (appends)
and `POST /api/traces` without a query string (the create every recording session starts with).

Routing, dependency resolution and FastAPI's inner middleware cost about a third of a single-event
append's CPU (docs/benchmarks.md, "Where the time goes"). This pure-ASGI layer sits inside the key gate and
the body limit (so the key was checked and the body is bounded as for every route), does exactly what
the FastAPI routes do (`traces.routes.append`, `traces.routes.create`) and renders errors with the same
handlers (`api.errors.render_exception`). The FastAPI routes stay declared: they document the endpoints
and answer what this layer passes on (a create with `?finalize=`, any other method) or when it is not
mounted.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bugtrail.api.errors import render_exception
from bugtrail.auth.keys import Principal
from bugtrail.traces.routes import append, create, json_response, path_trace_id

_APPEND_PATH = re.compile(r"/api/traces/([^/]+)/events")
_CREATE_PATH = "/api/traces"


class FastAppend:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("state", {}).get("principal")
        if scope["type"] != "http" or principal is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        match = _APPEND_PATH.fullmatch(path)
        is_create = path == _CREATE_PATH and not scope.get("query_string")
        if match is None and not is_create:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = scope["app"].state.settings
        response: Response
        try:
            if match is not None:
                trace_id = path_trace_id(match.group(1))
                response = json_response(await append(request, trace_id, settings, principal))
            else:
                created = await create(request, settings, principal, finalize=False)
                response = json_response(created, 201 if created.created else 200)
        except Exception as exc:  # answered as FastAPI's handlers would (api/errors.py)
            response = render_exception(request, exc)
        await response(scope, receive, send)
