"""Trace work that spans its own transactions: a GET streamed after the request's transaction ended."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from bugtrail.db.engine import Database
from bugtrail.errors import NotFound
from bugtrail.traces import repository as repo
from bugtrail.traces.stream import trace_document


def trace_chunks(database: Database, trace_id: uuid.UUID) -> Iterator[bytes]:
    """GET /api/traces/{id} streamed, read in one snapshot of its own (the response outlives the
    request's transaction). The caller checked visibility first, so a 404 is still a 404."""
    with database.scope(read_only=True) as session:
        trace = repo.get_trace(session, str(trace_id))
        if trace is None:  # traces are never deleted; only a race with a reset database gets here
            raise NotFound(f"trace {trace_id} not found")
        yield from trace_document(session, trace, repo.get_qa_result(session, trace.latest_qa_result_id))
