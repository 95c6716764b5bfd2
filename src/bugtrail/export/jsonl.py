"""JSONL rows: one trace per line in exactly the GET /api/traces/{id} shape (traces.stream)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from sqlalchemy.orm import Session

from bugtrail.export.repository import TraceBundle
from bugtrail.traces.repository import to_trace_read
from bugtrail.traces.stream import trace_document
from bugtrail.wire import TraceRead

CHUNK_BYTES = 1024 * 1024


def trace_read(bundle: TraceBundle) -> TraceRead:
    return to_trace_read(bundle.trace, bundle.events, bundle.qa_result, bundle.consent, bundle.curation)


def encode_batch(batch: list[TraceBundle]) -> bytes:
    """One chunk per batch (events already loaded in the bundles)."""
    return b"".join(trace_read(bundle).model_dump_json().encode() + b"\n" for bundle in batch)


def encode_paged(session: Session, batch: list[TraceBundle]) -> Iterator[bytes]:
    """The same bytes as encode_batch, reading each trace's events a page at a time; pieces are joined
    into chunks of about CHUNK_BYTES (fewer, larger writes), never a whole huge trace."""
    pending: list[bytes] = []
    size = 0
    for bundle in batch:
        document = trace_document(session, bundle.trace, bundle.qa_result, bundle.consent, bundle.curation)
        for piece in chain(document, (b"\n",)):
            pending.append(piece)
            size += len(piece)
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)
