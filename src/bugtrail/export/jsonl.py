"""JSONL rows: one trace per line in exactly the GET /api/traces/{id} shape (traces.stream), reviews included.

`blinding` is the reader's (reviews.visibility): None for an admin or the server-side CLI (everything);
a reviewer's export is blind on the traces they have not reviewed, as their GET is.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from sqlalchemy.orm import Session

from bugtrail.export.repository import TraceBundle
from bugtrail.reviews.shape import trace_reviews
from bugtrail.reviews.visibility import Blinding, View, apply_view
from bugtrail.traces.repository import to_trace_read
from bugtrail.traces.stream import trace_document
from bugtrail.wire import TraceRead

CHUNK_BYTES = 1024 * 1024


def view_of(bundle: TraceBundle, blinding: Blinding | None) -> View:
    return "full" if blinding is None else blinding.view(bundle.trace.trace_id, bundle.trace.developer_id)


def trace_read(bundle: TraceBundle, blinding: Blinding | None = None) -> TraceRead:
    view = view_of(bundle, blinding)
    read = to_trace_read(
        bundle.trace,
        bundle.events,
        bundle.qa_result,
        consent=bundle.consent,
        curation=bundle.curation,
        reviews=trace_reviews(bundle.reviews, view),
    )
    return apply_view(read, view)


def encode_batch(batch: list[TraceBundle], blinding: Blinding | None = None) -> bytes:
    """One chunk per batch (events already loaded in the bundles)."""
    return b"".join(trace_read(bundle, blinding).model_dump_json().encode() + b"\n" for bundle in batch)


def encode_paged(
    session: Session, batch: list[TraceBundle], blinding: Blinding | None = None
) -> Iterator[bytes]:
    """The same bytes as encode_batch, reading each trace's events a page at a time; pieces are joined
    into chunks of about CHUNK_BYTES (fewer, larger writes), never a whole huge trace."""
    pending: list[bytes] = []
    size = 0
    for bundle in batch:
        document = trace_document(
            session,
            bundle.trace,
            bundle.qa_result,
            consent=bundle.consent,
            curation=bundle.curation,
            reviews=bundle.reviews,
            view=view_of(bundle, blinding),
        )
        for piece in chain(document, (b"\n",)):
            pending.append(piece)
            size += len(piece)
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)
