"""create_app(settings): the one FastAPI application; domains contribute routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from bugtrail import __version__
from bugtrail.api.errors import ERROR_RESPONSES, error_response, install_error_handlers
from bugtrail.api.limits import BodySizeLimit
from bugtrail.auth.routes import router as auth_router
from bugtrail.config import Settings
from bugtrail.dashboard.routes import router as dashboard_router
from bugtrail.db.engine import Database
from bugtrail.export.routes import router as export_router
from bugtrail.qa.routes import router as qa_router
from bugtrail.repos.routes import router as repos_router
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
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    routers = (traces_router, auth_router, qa_router, repos_router, export_router, webhooks_router)
    for router in (*routers, dashboard_router):
        app.include_router(router, responses=ERROR_RESPONSES)

    @app.get("/healthz", tags=["ops"], responses={503: ERROR_RESPONSES[503]})
    def healthz() -> object:
        try:
            with database.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means "not healthy", said plainly
            return error_response(503, "database unreachable", str(exc))
        return {"status": "ok", "version": __version__, "database": database.dialect}

    return app
