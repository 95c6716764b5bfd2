"""Request-scoped dependencies: the transaction (commit after the handler) and the caller's identity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from bugtrail.api.db_gate import DbGate
from bugtrail.auth.keys import Principal, find_active
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.errors import Forbidden, Unauthorized

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def db_gate(app: Any) -> DbGate:
    """The app's one DbGate, made on first use (the pool size is known once the database exists)."""
    gate: DbGate | None = getattr(app.state, "db_gate", None)
    if gate is None:
        database: Database = app.state.database
        pool = database.engine.pool
        slots = pool.size() + getattr(pool, "_max_overflow", 0) if hasattr(pool, "size") else 8
        gate = app.state.db_gate = DbGate(slots, serialize_writes=database.dialect == "sqlite")
    return gate


async def _db_gate(request: Request) -> AsyncIterator[None]:
    """Admit the request to the database in the event loop (see api/db_gate.py for why)."""
    async with db_gate(request.app).admit(write=request.method not in ("GET", "HEAD")) as release:
        request.state.release_db_gate = release
        yield


def _session(request: Request, _gate: None = Depends(_db_gate, scope="function")) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, before the response is sent.
    Reads (GET/HEAD) must not take SQLite's write lock."""
    with get_database(request).scope(read_only=request.method in ("GET", "HEAD")) as session:
        yield session


# scope="function": the exit code (commit) runs before the response is sent, so a 2xx means durable.
DbSession = Annotated[Session, Depends(_session, scope="function")]
AppSettings = Annotated[Settings, Depends(get_settings)]


def current_principal(
    request: Request, session: DbSession, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    early = gate_principal(request)
    if early is not None:
        return early
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "missing API key", detail={"hint": "send the header 'Authorization: Bearer <key>'"}
        )
    principal = find_active(session, credentials.credentials)
    if principal is None:
        raise Unauthorized("API key is unknown or revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def gate_principal(request: Request) -> Principal | None:
    """The principal api/auth_gate.py found before the body was read (requests with a body to /api/)."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


def early_principal(request: Request) -> Principal:
    principal = gate_principal(request)
    if principal is None:  # only reachable if the route is mounted without ApiKeyGate
        raise Unauthorized(
            "missing API key", detail={"hint": "send the header 'Authorization: Bearer <key>'"}
        )
    return principal


# For routes that read their own body: authenticated before the body, no database session held.
EarlyPrincipal = Annotated[Principal, Depends(early_principal)]


async def run_write(request: Request, work: Callable[[Session], T]) -> T:
    """Run `work` in one write transaction, holding the database writer only for it: the route does its
    CPU-heavy preparation first, outside. Committed before returning (a 2xx means durable)."""
    database = get_database(request)

    def in_transaction() -> T:
        with database.scope() as session:
            return work(session)

    async with db_gate(request.app).admit(write=True):
        return await run_in_threadpool(in_transaction)


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
