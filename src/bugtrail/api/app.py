"""create_app(settings): the one FastAPI application; domains contribute routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from pydantic.json_schema import models_json_schema

from bugtrail import __version__
from bugtrail.api.auth_gate import ApiKeyGate
from bugtrail.api.errors import ERROR_RESPONSES, error_response, install_error_handlers
from bugtrail.api.fast_append import FastAppend
from bugtrail.api.limits import BodySizeLimit
from bugtrail.api.probes import LIVENESS_PATH, LivenessProbe
from bugtrail.auth.routes import router as auth_router
from bugtrail.config import Settings
from bugtrail.dashboard.routes import router as dashboard_router
from bugtrail.db.engine import Database
from bugtrail.export.routes import router as export_router
from bugtrail.qa.routes import router as qa_router
from bugtrail.repos.routes import router as repos_router
from bugtrail.traces.routes import OPENAPI_MODELS
from bugtrail.traces.routes import router as traces_router
from bugtrail.webhooks.routes import router as webhooks_router


def create_app(settings: Settings, database: Database | None = None) -> FastAPI:
    database = database or Database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        title="bugtrail",
        version=__version__,
        description="Collect debugging traces, verify them, export datasets.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    install_error_handlers(app)
    # Innermost of ours: the hot append route, answered in front of FastAPI's routing (api/fast_append.py).
    app.add_middleware(FastAppend)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last = runs first: no body is read (not even its size judged) before the key is checked.
    app.add_middleware(ApiKeyGate)
    app.add_middleware(LivenessProbe, version=__version__, database=database.dialect)

    routers = (traces_router, auth_router, qa_router, repos_router, export_router, webhooks_router)
    for router in (*routers, dashboard_router):
        app.include_router(router, responses=ERROR_RESPONSES)

    @app.get(LIVENESS_PATH, tags=["ops"])
    def healthz() -> object:
        """Liveness: the process serves HTTP (no database touched). Answered by api/probes.py before
        routing; this route documents it and serves an app mounted without that middleware."""
        return {"status": "ok", "version": __version__, "database": database.dialect}

    @app.get("/readyz", tags=["ops"], responses={503: ERROR_RESPONSES[503]})
    async def readyz() -> object:
        """Readiness: the database answers (one round trip, in a thread)."""
        try:
            await run_in_threadpool(database.ping)
        except Exception as exc:  # any database failure means "not ready", said plainly
            return error_response(503, "database unreachable", str(exc))
        return {"status": "ready", "version": __version__, "database": database.dialect}

    _add_openapi_models(app, OPENAPI_MODELS)
    return app


def _add_openapi_models(app: FastAPI, models: tuple[type, ...]) -> None:
    """Schemas of models that routes reading their own body name only in openapi_extra."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        _, definitions = models_json_schema(
            [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in definitions.get("$defs", {}).items():
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
