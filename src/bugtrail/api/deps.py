"""Request-scoped dependencies: the transaction (commit after the handler) and the caller's identity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal, find_active
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, before the response is sent.
    Reads (GET/HEAD) must not take SQLite's write lock."""
    with get_database(request).scope(read_only=request.method in ("GET", "HEAD")) as session:
        yield session


# scope="function": the exit code (commit) runs before the response is sent, so a 2xx means durable.
DbSession = Annotated[Session, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_principal(
    session: DbSession, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "missing API key", detail={"hint": "send the header 'Authorization: Bearer <key>'"}
        )
    principal = find_active(session, credentials.credentials)
    if principal is None:
        raise Unauthorized("API key is unknown or revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_reviewer(principal: CurrentPrincipal) -> Principal:
    if not principal.can_read_all:
        raise Forbidden("this needs a reviewer or admin key", detail={"role": principal.role})
    return principal


def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this needs an admin key", detail={"role": principal.role})
    return principal


ReviewerPrincipal = Annotated[Principal, Depends(require_reviewer)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
