"""Every HTTP operation an app serves, and a uniform way to call one (authorization and hostile tests)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def operations(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path template) of every HTTP operation the app serves, included routers and mounts too."""
    found: list[tuple[str, str]] = []

    def visit(route: Any, path: str | None = None) -> None:
        if hasattr(route, "effective_candidates"):  # FastAPI's included router (not flattened any more)
            for candidate in route.effective_candidates():
                visit(candidate)
        elif hasattr(route, "original_route"):  # an included route, with its full path
            visit(route.original_route, route.path)
        elif isinstance(route, (APIRoute, Route)):
            for method in sorted(route.methods or ()):
                if method in METHODS:
                    found.append((method, path or route.path))
        elif isinstance(route, Mount):
            found.append(("GET", (path or route.path) + "/"))
        else:  # a websocket or something new: it must be looked at
            found.append(("?", repr(route)[:200]))

    for route in app.routes:
        visit(route)
    return found


def fill(path: str, values: dict[str, str]) -> str:
    """Substitute path parameters: known objects by name, anything else a plausible value."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        return "1" if name.endswith("_id") and name not in ("trace_id", "event_id") else str(uuid.uuid4())

    return PARAM.sub(value, path)


def call(client, method: str, path: str, headers: dict[str, str], body: Any = None):  # type: ignore[no-untyped-def]
    if method in ("POST", "PUT", "PATCH"):
        return client.request(
            method, path, headers=headers, json={} if body is None else body, follow_redirects=False
        )
    return client.request(method, path, headers=headers, follow_redirects=False)
