"""Request-scoped dependencies: the transaction (commit after the handler) and the caller's identity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from bugtrail.api.db_gate import DbGate
from bugtrail.api.group_commit import Batch, GroupCommitter
from bugtrail.auth.cache import KeyCache
from bugtrail.auth.keys import Principal, find_active
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.errors import Forbidden, Unauthorized

T = TypeVar("T")


_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


# async (like the principal dependencies below): FastAPI runs a plain `def` dependency in the thread pool,
# a hop that costs more than the dependency itself.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def key_cache(app: Any) -> KeyCache:
    """The app's API key cache (auth/cache.py), made on first use."""
    cache: KeyCache | None = getattr(app.state, "key_cache", None)
    if cache is None:
        cache = app.state.key_cache = KeyCache(app.state.settings.auth_cache_ttl_s)
    return cache


# SQLite groups of up to this many events are written on the event loop (api/group_commit.py): a few ms.
INLINE_WRITE_EVENTS = 200


def group_committer(app: Any) -> GroupCommitter:
    """The app's one GroupCommitter (api/group_commit.py): SQLite writes one group at a time, PostgreSQL
    keeps two groups in flight (one builds while the other waits for its commit)."""
    committer: GroupCommitter | None = getattr(app.state, "group_committer", None)
    if committer is None:
        database: Database = app.state.database
        settings: Settings = app.state.settings
        committer = app.state.group_committer = GroupCommitter(
            database,
            db_gate(app),
            max_requests=settings.write_group_max_requests,
            max_events=settings.write_group_max_events,
            lanes=1 if database.dialect == "sqlite" else 2,
            inline_max_events=INLINE_WRITE_EVENTS
            if database.dialect == "sqlite" and settings.serve_workers == 1
            else 0,
        )
    return committer


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
    cache = key_cache(request.app)
    principal = cache.get(credentials.credentials)
    if principal is None:
        started = cache.started()
        principal = cache.remember(
            credentials.credentials, find_active(session, credentials.credentials), started
        )
    if principal is None:
        raise Unauthorized("API key is unknown or revoked")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def gate_principal(request: Request) -> Principal | None:
    """The principal api/auth_gate.py found before the body was read (requests with a body to /api/)."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal


async def early_principal(request: Request) -> Principal:
    principal = gate_principal(request)
    if principal is None:  # only reachable if the route is mounted without ApiKeyGate
        raise Unauthorized(
            "missing API key", detail={"hint": "send the header 'Authorization: Bearer <key>'"}
        )
    return principal


# For routes that read their own body: authenticated before the body, no database session held.
EarlyPrincipal = Annotated[Principal, Depends(early_principal)]


# Bodies up to this size are prepared (parsed, validated, redacted, hashed) on the event loop: for a small
# body the hop to the thread pool costs more than the work. Bigger ones go to a thread, so a slow batch
# never holds up other requests.
INLINE_PREPARE_BYTES = 8 * 1024


async def run_prepare(body_bytes: int, prepare: Callable[..., T], *args: Any) -> T:
    if body_bytes <= INLINE_PREPARE_BYTES:
        return prepare(*args)
    return await run_in_threadpool(prepare, *args)


async def run_write(
    request: Request,
    work: Callable[[Session], T],
    order_key: str = "",
    events: int = 0,
    batch: Batch | None = None,
) -> T:
    """Run `work` in a savepoint of the next group commit (api/group_commit.py), holding the database
    writer only for it: the route does its CPU-heavy preparation first, outside. Returns once the group
    has committed (a 2xx means durable). `order_key` (the trace id) orders work within a group; with a
    `batch`, the requests of one kind in a group are written together."""
    return await group_committer(request.app).submit(work, order_key, events, batch)


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
