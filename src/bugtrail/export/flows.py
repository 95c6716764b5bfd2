"""Run an export: record it, stream batches in one read snapshot, then record count, bytes and sha256.

Exports read in their own read-only transaction (REPEATABLE READ on PostgreSQL, a WAL snapshot on
SQLite) because a streamed response outlives the request's transaction; the export_record row is
written in short transactions of its own before and after.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.db.engine import SQLITE_READ_ONLY, Database
from bugtrail.export import jsonl, repository
from bugtrail.export.filters import ExportFilters
from bugtrail.export.parquet import IncrementalParquetWriter, batch_table, schema_for
from bugtrail.export.repository import TraceBundle
from bugtrail.export.shards import DEFAULT_MAX_ROWS, MonthShardWriter, month_of, write_checksums
from bugtrail.reviews import visibility
from bugtrail.reviews.visibility import Blinding
from bugtrail.traces.repository import iter_event_pages

BATCH_SIZE = 500
CHUNK_BYTES = 1024 * 1024

ProgressCallback = Callable[[int], None]  # called with the number of traces just written


@dataclass
class ExportResult:
    record_id: int
    trace_count: int
    byte_count: int
    sha256: str


def start_export(
    database: Database, fmt: str, filters: ExportFilters, requested_by: str | None, layout: str | None = None
) -> int:
    record_filters = filters.as_record()
    if layout is not None:
        record_filters["layout"] = layout
    with database.scope() as session:
        return repository.start_record(session, fmt, record_filters, requested_by).id


def blinding_for(database: Database, principal: Principal) -> Blinding | None:
    """A reviewer's export is blind on the traces they have not reviewed (None: an admin sees all)."""
    if principal.is_admin:
        return None
    with database.scope(read_only=True) as session:
        return visibility.blinding_for(session, principal)


def count(database: Database, filters: ExportFilters) -> int:
    with read_snapshot(database) as session:
        return repository.count_traces(session, filters)


@contextmanager
def read_snapshot(database: Database) -> Iterator[Session]:
    session = database.sessions()
    try:
        if database.dialect == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        else:
            session.connection(execution_options=SQLITE_READ_ONLY)
        yield session
        session.commit()
    finally:
        session.close()


def _finish(database: Database, record_id: int, traces: int, size: int, sha256: str) -> ExportResult:
    with database.scope() as session:
        repository.complete_record(session, record_id, traces, size, sha256)
    return ExportResult(record_id, traces, size, sha256)


def jsonl_chunks(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    blinding: Blinding | None = None,
) -> Iterator[bytes]:
    """Yield the JSONL bytes batch by batch; completes the export record after the last chunk.
    `blinding`: a reviewer's (blind on traces they have not reviewed); None exports everything."""
    digest = hashlib.sha256()
    size = traces = 0
    with read_snapshot(database) as session:
        for batch in repository.iter_bundles(
            session, filters, batch_size, with_events=False, active_gap_s=database.settings.active_gap_s
        ):
            for chunk in jsonl.encode_paged(session, batch, blinding):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
            traces += len(batch)
            if on_batch is not None:
                on_batch(len(batch))
    _finish(database, record_id, traces, size, digest.hexdigest())


def write_jsonl(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    out: Path,
    on_batch: ProgressCallback | None = None,
) -> ExportResult:
    with out.open("wb") as handle:
        for chunk in jsonl_chunks(database, filters, record_id, on_batch):
            handle.write(chunk)
    return result_of(database, record_id)


def _parquet_batches(
    session: Session, database: Database, filters: ExportFilters, batch_size: int, paged: bool
) -> Iterator[list[TraceBundle]]:
    """Batches of traces for Parquet: events loaded with them, or (paged) read later a page at a time."""
    return repository.iter_bundles(
        session,
        filters,
        batch_size,
        json_as_text=True,
        with_events=not paged,
        active_gap_s=database.settings.active_gap_s,
    )


def _row_groups(session: Session, bundles: list[TraceBundle], paged: bool) -> Iterator[list[TraceBundle]]:
    """One row per trace: the bundles are one row group (memory is one batch of whole traces). One row per
    event (paged): a row group per page of a trace's events, never a whole trace at once."""
    if not paged:
        yield bundles
        return
    for bundle in bundles:
        for page in iter_event_pages(session, bundle.trace.trace_id, json_as_text=True):
            yield [replace(bundle, events=page)]


def _month_of(bundle: TraceBundle) -> str:
    return month_of(bundle.trace.created_at)


def _write_row_groups(
    database: Database,
    filters: ExportFilters,
    layout: str,
    batch_size: int,
    on_batch: ProgressCallback | None,
    write: Callable[[str, list[TraceBundle]], None],
    by_month: bool = False,
) -> int:
    """Read the export in one snapshot and hand `write` its row groups, each with its month ("" unless
    `by_month`: then a row group never spans two months); returns the number of traces."""
    traces = 0
    with read_snapshot(database) as session:
        paged = layout == "event"
        for batch in _parquet_batches(session, database, filters, batch_size, paged):
            for month, group in groupby(batch, key=_month_of if by_month else lambda _bundle: ""):
                for row_group in _row_groups(session, list(group), paged):
                    write(month, row_group)
            traces += len(batch)
            if on_batch is not None:
                on_batch(len(batch))
    return traces


def write_parquet(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    out: Path,
    layout: str = "trace",
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    blinding: Blinding | None = None,
) -> ExportResult:
    writer = IncrementalParquetWriter(out, layout, blinding)
    try:
        traces = _write_row_groups(
            database, filters, layout, batch_size, on_batch, lambda _month, rows: writer.write_batch(rows)
        )
    finally:
        writer.close()
    sha256, size = file_digest(out)
    return _finish(database, record_id, traces, size, sha256)


def write_parquet_shards(
    database: Database,
    filters: ExportFilters,
    record_id: int,
    out: Path,
    layout: str = "trace",
    on_batch: ProgressCallback | None = None,
    batch_size: int = BATCH_SIZE,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> ExportResult:
    """A directory of Parquet shards partitioned by month (shards.MonthShardWriter), same rows as
    write_parquet; the record's sha256 is that of the directory's _SHA256SUMS listing."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} is not an empty directory; a sharded export writes a new one")
    writer = MonthShardWriter(out, schema_for(layout), max_rows)
    try:
        traces = _write_row_groups(
            database,
            filters,
            layout,
            batch_size,
            on_batch,
            lambda month, rows: writer.write(month, batch_table(rows, layout)),
            by_month=True,
        )
    finally:
        writer.close()
    sha256, size = write_checksums(out)
    return _finish(database, record_id, traces, size, sha256)


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_chunks(path: Path, delete_after: bool = True) -> Iterator[bytes]:
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
    finally:
        if delete_after:
            path.unlink(missing_ok=True)


def result_of(database: Database, record_id: int) -> ExportResult:
    with database.scope(read_only=True) as session:
        record = repository.get_record(session, record_id)
        assert record is not None
        return ExportResult(record.id, record.trace_count or 0, record.byte_count or 0, record.sha256 or "")
