"""Trace work that spans its own transactions: a GET streamed after the request's transaction ended, and
finalize?wait=, which commits the finalize and then polls for QA in short read scopes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from anyio import to_thread
from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.consent import repository as consent_repo
from bugtrail.db.engine import Database
from bugtrail.errors import NotFound
from bugtrail.traces import repository as repo
from bugtrail.traces import service
from bugtrail.traces.stream import trace_document
from bugtrail.wire import FinalizeResult

TERMINAL = ("completed", "failed")


def trace_chunks(database: Database, trace_id: uuid.UUID) -> Iterator[bytes]:
    """GET /api/traces/{id} streamed, read in one snapshot of its own (the response outlives the
    request's transaction). The caller checked visibility first, so a 404 is still a 404."""
    with database.scope(read_only=True) as session:
        trace = repo.get_trace(session, str(trace_id))
        if trace is None:  # traces are never deleted; only a race with a reset database gets here
            raise NotFound(f"trace {trace_id} not found")
        yield from trace_document(
            session,
            trace,
            repo.get_qa_result(session, trace.latest_qa_result_id),
            consent=consent_repo.get(session, trace.developer_id),
            curation=repo.curation_on_read(session, trace, database.settings.active_gap_s),
        )


async def wait_for_qa(
    session: Session,
    database: Database,
    principal: Principal,
    finalized: FinalizeResult,
    wait: float,
    release_db_gate: Callable[[], None] | None = None,
) -> FinalizeResult:
    """Commit the request's finalize, then poll (each poll its own read scope) until QA reaches a
    terminal status or `wait` seconds pass. Database work runs in the thread pool: a waiting client
    costs a coroutine, not a thread."""
    # The finalize must be visible to workers before we wait for them.
    await to_thread.run_sync(session.commit)
    if release_db_gate is not None:
        release_db_gate()
    trace_id = finalized.trace_id
    deadline = time.monotonic() + wait
    interval = 0.25
    while True:
        current = await to_thread.run_sync(_status, database, principal, trace_id)
        if current in TERMINAL:
            final_status, qa_results = await to_thread.run_sync(_outcome, database, principal, trace_id)
            return finalized.model_copy(update={"status": final_status, "qa_results": qa_results})
        if time.monotonic() >= deadline:
            return finalized.model_copy(update={"status": current})
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, 2.0)  # QA takes minutes; long waits poll less often


def _status(database: Database, principal: Principal, trace_id: uuid.UUID) -> str:
    with database.scope(read_only=True) as poll:
        return service.trace_status(poll, principal, trace_id)


def _outcome(
    database: Database, principal: Principal, trace_id: uuid.UUID
) -> tuple[str, dict[str, Any] | None]:
    with database.scope(read_only=True) as poll:
        return service.trace_outcome(poll, principal, trace_id)
