"""JSONL rows: one trace per line in exactly the GET /api/traces/{id} shape (to_trace_read)."""

from __future__ import annotations

from bugtrail.export.repository import TraceBundle
from bugtrail.traces.repository import to_trace_read
from bugtrail.wire import TraceRead


def trace_read(bundle: TraceBundle) -> TraceRead:
    return to_trace_read(bundle.trace, bundle.events, bundle.qa_result)


def encode_batch(batch: list[TraceBundle]) -> bytes:
    """One chunk per batch: fewer, larger writes than one per line."""
    return b"".join(trace_read(bundle).model_dump_json().encode() + b"\n" for bundle in batch)
