"""Run `sft`, `adp` and `hf` exports: one read snapshot, traces in keyset batches, each trace's events a
page at a time through a converter, so memory is one row however large the export or the trace.

The export record is completed after the last byte (JSONL) or file (hf) with its count, size and sha256,
like the jsonl and parquet exports in export/flows.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.orm import Session

from bugtrail.db.engine import Database
from bugtrail.export import repository
from bugtrail.export.filters import ExportFilters
from bugtrail.export.flows import BATCH_SIZE, ExportResult, ProgressCallback, read_snapshot, result_of
from bugtrail.export.formats.adp import to_adp_row
from bugtrail.export.formats.hf import HfDatasetWriter
from bugtrail.export.formats.sft import to_sft_row
from bugtrail.export.jsonl import view_of
from bugtrail.export.repository import TraceBundle
from bugtrail.reviews.shape import trace_reviews
from bugtrail.reviews.visibility import Blinding, apply_view
from bugtrail.traces.curation import DEFAULT_ACTIVE_GAP_S
from bugtrail.traces.repository import iter_event_pages, to_event_read, to_trace_read

CHUNK_BYTES = 1024 * 1024
Converter = Callable[[Mapping[str, Any], Iterator[dict[str, Any]]], dict[str, Any]]
CONVERTERS: dict[str, Converter] = {"sft": to_sft_row, "adp": to_adp_row}


def record_of(bundle: TraceBundle, blinding: Blinding | None = None) -> dict[str, Any]:
    """The exported record without its events: the GET /api/traces/{id} document's other keys, as the
    reader may see them (`blinding`: a reviewer's, reviews.visibility; None shows everything)."""
    view = view_of(bundle, blinding)
    read = to_trace_read(
        bundle.trace,
        [],
        bundle.qa_result,
        consent=bundle.consent,
        curation=bundle.curation,
        reviews=trace_reviews(bundle.reviews, view),
    )
    document = apply_view(read, view).model_dump(mode="json")
    document.pop("events", None)
    return document


def events_of(session: Session, trace_id: str) -> Iterator[dict[str, Any]]:
    """The trace's events as in the GET document, read a keyset page at a time."""
    for page in iter_event_pages(session, trace_id):
        for row in page:
            yield to_event_read(row).model_dump(mode="json")


def iter_rows(
    session: Session,
    filters: ExportFilters,
    convert: Converter,
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    active_gap_s: float = DEFAULT_ACTIVE_GAP_S,
    blinding: Blinding | None = None,
) -> Iterator[dict[str, Any]]:
    for batch in repository.iter_bundles(
        session, filters, batch_size, with_events=False, active_gap_s=active_gap_s
    ):
        for bundle in batch:
            yield convert(record_of(bundle, blinding), events_of(session, bundle.trace.trace_id))
        if on_batch is not None:
            on_batch(len(batch))


def encode(row: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(row) + b"\n"
    except TypeError:  # an integer beyond 64 bits in some stored document: the stdlib encoder takes it
        return json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def row_chunks(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    fmt: str,
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    blinding: Blinding | None = None,
) -> Iterator[bytes]:
    """JSONL of `fmt` rows in chunks of about CHUNK_BYTES; completes the export record at the end.
    `blinding`: a reviewer's (blind on traces they have not reviewed); None exports everything."""
    convert = CONVERTERS[fmt]
    digest = hashlib.sha256()
    size = traces = 0
    pending: list[bytes] = []
    pending_size = 0
    with read_snapshot(database) as session:
        gap = database.settings.active_gap_s
        rows = iter_rows(session, filters, convert, on_batch, batch_size, gap, blinding)
        for row in rows:
            line = encode(row)
            del row  # a huge trace's row and its line must not both outlive this step
            traces += 1
            pending.append(line)
            pending_size += len(line)
            if pending_size >= CHUNK_BYTES:
                # One large line is sent as it is (joining would copy it); small ones are joined.
                chunk = pending[0] if len(pending) == 1 else b"".join(pending)
                pending, pending_size = [], 0
                del line
                digest.update(chunk)
                size += len(chunk)
                yield chunk
                del chunk
    if pending:
        chunk = b"".join(pending)
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    with database.scope() as session:
        repository.complete_record(session, record_id, traces, size, digest.hexdigest())


def write_rows(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    fmt: str,
    out: Path,
    on_batch: ProgressCallback | None = None,
) -> ExportResult:
    with out.open("wb") as handle:
        for chunk in row_chunks(database, filters, record_id, fmt, on_batch):
            handle.write(chunk)
    return result_of(database, record_id)


def write_hf(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    out: Path,
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
) -> ExportResult:
    """An hf dataset directory; the record's sha256 is that of its _SHA256SUMS listing."""
    writer = HfDatasetWriter(out, filters.as_record(), record_id)
    try:
        with read_snapshot(database) as session:
            gap = database.settings.active_gap_s
            for row in iter_rows(session, filters, to_sft_row, on_batch, batch_size, gap):
                writer.add(row)
    except BaseException:
        writer.abort()
        raise
    sha256, size = writer.finish()
    with database.scope() as session:
        repository.complete_record(session, record_id, writer.stats.rows, size, sha256)
    return ExportResult(record_id, writer.stats.rows, size, sha256)
