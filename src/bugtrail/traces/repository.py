"""All SQL for traces and events. Functions flush, never commit: the caller owns the transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, and_, bindparam, cast, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bugtrail.consent import repository as consent_repo
from bugtrail.consent.schemas import trace_licence
from bugtrail.db.engine import json_serializer
from bugtrail.db.models import Event, QaResult, Trace, utcnow
from bugtrail.traces.curation import DEFAULT_ACTIVE_GAP_S, compute_curation
from bugtrail.wire import Curation, EventRead, RecordedEnvironment, ReviewRead, TraceRead, TraceSummary

_EVENT_TABLE = Event.metadata.tables["event"]

# Stay well under SQLite's and PostgreSQL's bound-parameter limits in IN (...) lists.
_IN_CHUNK = 500


def get_trace(session: Session, trace_id: str, for_update: bool = False) -> Trace | None:
    query = select(Trace).where(Trace.trace_id == trace_id)
    if for_update:
        # Serialises appends and finalize on one trace (PostgreSQL); SQLite already holds the write lock.
        query = query.with_for_update()
    return session.scalar(query)


def insert_traces_if_absent(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """INSERT ... ON CONFLICT (trace_id) DO NOTHING RETURNING trace_id: the ids inserted; the others were
    taken (by an earlier create, or a concurrent one, which PostgreSQL waits for). No ORM object, no
    savepoint, one statement (two when only some rows carry an environment: a row leaves the column out
    to store SQL NULL, not JSON null)."""
    connection = session.connection()
    statement = _INSERT_TRACES_IF_ABSENT[connection.dialect.name]
    inserted: set[str] = set()
    for same_columns in (
        [row for row in rows if "environment" in row],
        [row for row in rows if "environment" not in row],
    ):
        if same_columns:
            inserted.update(connection.execute(statement, same_columns).scalars())
    return inserted


def event_hashes(session: Session, trace_id: str, event_ids: Sequence[str]) -> dict[str, str]:
    """event_id -> content_hash for those of `event_ids` already stored on the trace."""
    found: dict[str, str] = {}
    for start in range(0, len(event_ids), _IN_CHUNK):
        chunk = event_ids[start : start + _IN_CHUNK]
        rows = session.connection().execute(
            select(_EVENT_TABLE.c.event_id, _EVENT_TABLE.c.content_hash).where(
                _EVENT_TABLE.c.trace_id == trace_id, _EVENT_TABLE.c.event_id.in_(chunk)
            )
        )
        found.update({row.event_id: row.content_hash for row in rows})
    return found


@dataclass
class AppendTarget:
    """What an append needs of its trace (a group commit reads these for all its traces at once)."""

    trace_id: str
    developer_id: str
    status: str
    event_count: int
    content_hash: str = ""  # of the create payload (a re-create compares it)


_TRACE_TABLE = Trace.metadata.tables["trace"]
# RETURNING says which rows were inserted (psycopg reports no rowcount for it).
_INSERT_TRACES_IF_ABSENT = {
    name: insert(_TRACE_TABLE)
    .on_conflict_do_nothing(index_elements=["trace_id"])
    .returning(_TRACE_TABLE.c.trace_id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}


# What an append (or a re-create) needs of its trace, in AppendTarget's order.
_TARGET_COLUMNS = (
    _TRACE_TABLE.c.trace_id,
    _TRACE_TABLE.c.developer_id,
    _TRACE_TABLE.c.status,
    _TRACE_TABLE.c.event_count,
    _TRACE_TABLE.c.content_hash,
)
_APPEND_TARGETS = (
    select(*_TARGET_COLUMNS)
    .where(_TRACE_TABLE.c.trace_id.in_(bindparam("trace_ids", expanding=True)))
    .order_by(_TRACE_TABLE.c.trace_id)
    .with_for_update()
)


def append_targets(session: Session, trace_ids: Sequence[str]) -> dict[str, AppendTarget]:
    """The traces among `trace_ids`, row-locked in trace_id order on PostgreSQL (every group locks in the
    same order, so two groups in flight never deadlock); SQLite already holds the write lock."""
    found: dict[str, AppendTarget] = {}
    ordered = sorted(set(trace_ids))
    for start in range(0, len(ordered), _IN_CHUNK):
        chunk = ordered[start : start + _IN_CHUNK]
        rows = session.connection().execute(_APPEND_TARGETS, {"trace_ids": chunk})
        found.update({row.trace_id: AppendTarget(*row) for row in rows})
    return found


def event_hashes_of(session: Session, wanted: dict[str, set[str]]) -> dict[tuple[str, str], str]:
    """(trace_id, event_id) -> content_hash of the wanted event ids already stored (several traces)."""
    e = _EVENT_TABLE.c
    found: dict[tuple[str, str], str] = {}
    pairs = [(trace_id, event_id) for trace_id, ids in wanted.items() for event_id in ids]
    for start in range(0, len(pairs), _IN_CHUNK):
        chunk = pairs[start : start + _IN_CHUNK]
        query = select(e.trace_id, e.event_id, e.content_hash).where(
            e.trace_id.in_({trace_id for trace_id, _ in chunk}),
            e.event_id.in_({event_id for _, event_id in chunk}),
        )
        rows = session.connection().execute(query)
        found.update({(row.trace_id, row.event_id): row.content_hash for row in rows})
    return found


# Built once (with expanding IN parameters): building a statement per group cost more CPU than running it.
_APPEND_STATE = (
    select(*_TARGET_COLUMNS, _EVENT_TABLE.c.event_id, _EVENT_TABLE.c.content_hash)
    .select_from(
        _TRACE_TABLE.outerjoin(
            _EVENT_TABLE,
            and_(
                _EVENT_TABLE.c.trace_id == _TRACE_TABLE.c.trace_id,
                _EVENT_TABLE.c.event_id.in_(bindparam("event_ids", expanding=True)),
            ),
        )
    )
    .where(_TRACE_TABLE.c.trace_id.in_(bindparam("trace_ids", expanding=True)))
    .order_by(_TRACE_TABLE.c.trace_id)
    .with_for_update(of=_TRACE_TABLE)
)


def append_state(
    session: Session, wanted: dict[str, set[str]]
) -> tuple[dict[str, AppendTarget], dict[tuple[str, str], str]]:
    """append_targets and event_hashes_of for `wanted` (trace_id -> event ids): one statement for a small
    group (the traces LEFT JOIN their wanted events, only the trace rows locked, in trace_id order), two
    for a large one (the IN lists are chunked)."""
    event_ids = {event_id for ids in wanted.values() for event_id in ids}
    if len(wanted) + len(event_ids) > _IN_CHUNK:
        return append_targets(session, list(wanted)), event_hashes_of(session, wanted)
    rows = session.connection().execute(
        _APPEND_STATE, {"trace_ids": sorted(wanted), "event_ids": sorted(event_ids)}
    )
    targets: dict[str, AppendTarget] = {}
    hashes: dict[tuple[str, str], str] = {}
    for trace_id, developer_id, status, count, header_hash, event_id, event_hash in rows:
        if trace_id not in targets:
            targets[trace_id] = AppendTarget(trace_id, developer_id, status, count, header_hash)
        if event_id is not None:
            hashes[(trace_id, event_id)] = event_hash
    return targets, hashes


_SET_EVENT_COUNT = (
    update(_TRACE_TABLE)
    .where(_TRACE_TABLE.c.trace_id == bindparam("target"))
    .values(event_count=bindparam("count"), updated_at=bindparam("now"))
)


def set_event_counts(session: Session, counts: dict[str, int]) -> None:
    """One executemany for the traces a group appended to."""
    if not counts:
        return
    now = utcnow()
    rows = [{"target": trace_id, "count": count, "now": now} for trace_id, count in counts.items()]
    session.connection().execute(_SET_EVENT_COUNT, rows)


_EVENT_COLUMNS = (
    "trace_id",
    "event_id",
    "seq",
    "event_type",
    "event_timestamp",
    "ts_utc",
    "details",
    "content_hash",
    "redactions",
    "received_at",
)
_INSERT_EVENTS = _EVENT_TABLE.insert()
_SQLITE_INSERT_EVENT = (
    f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))})"
)


def _sqlite_datetime(value: datetime) -> str:
    # The exact text SQLAlchemy's SQLite DATETIME type stores for a UtcDateTime (naive UTC), so ORM reads and
    # comparisons see no difference. This path skips the column type, so it converts an aware value itself.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def insert_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        # Core executemany: one round trip per batch, about half the CPU of the ORM bulk-insert path.
        connection.execute(_INSERT_EVENTS, rows)
        return
    # SQLite is one writer, so the CPU spent here holds every other writer back: bind plain values straight
    # to the driver instead of through SQLAlchemy's per-parameter processing (a third of the insert cost).
    received_at = _sqlite_datetime(utcnow())
    params = [
        (
            row["trace_id"],
            row["event_id"],
            row["seq"],
            row["event_type"],
            row["event_timestamp"],
            _sqlite_datetime(row["ts_utc"]),
            json_serializer(row["details"]),
            row["content_hash"],
            row["redactions"],
            received_at,
        )
        for row in rows
    ]
    connection.exec_driver_sql(_SQLITE_INSERT_EVENT, params)


def load_events(session: Session, trace_id: str) -> list[Event]:
    return list(
        session.scalars(select(Event).where(Event.trace_id == trace_id).order_by(Event.ts_utc, Event.seq))
    )


def get_qa_result(session: Session, qa_result_id: int | None) -> QaResult | None:
    if qa_result_id is None:
        return None
    return session.get(QaResult, qa_result_id)


def list_qa_results(session: Session, trace_id: str) -> list[QaResult]:
    return list(
        session.scalars(select(QaResult).where(QaResult.trace_id == trace_id).order_by(QaResult.id.desc()))
    )


@dataclass(frozen=True)
class TraceFilter:
    developer_id: str | None = None
    status: str | None = None
    repo_url: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def list_traces(
    session: Session, filters: TraceFilter, limit: int, after: tuple[datetime, str] | None
) -> list[Trace]:
    """Newest first, keyset-paginated on (created_at, trace_id) so pages stay stable under inserts."""
    query = select(Trace)
    if filters.developer_id is not None:
        query = query.where(Trace.developer_id == filters.developer_id)
    if filters.status is not None:
        query = query.where(Trace.status == filters.status)
    if filters.repo_url is not None:
        query = query.where(Trace.repo_url == filters.repo_url)
    if filters.created_after is not None:
        query = query.where(Trace.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(Trace.created_at < filters.created_before)
    if after is not None:
        created_at, trace_id = after
        query = query.where(
            or_(
                Trace.created_at < created_at,
                and_(Trace.created_at == created_at, Trace.trace_id < trace_id),
            )
        )
    query = query.order_by(Trace.created_at.desc(), Trace.trace_id.desc()).limit(limit)
    return list(session.scalars(query))


def to_summary(trace: Trace) -> TraceSummary:
    return TraceSummary(
        trace_id=uuid.UUID(trace.trace_id),
        developer_id=trace.developer_id,
        repo_url=trace.repo_url,
        bug_description=trace.bug_description,
        base_commit=trace.base_commit,
        test_command=trace.test_command,
        status=trace.status,
        event_count=trace.event_count,
        created_at=trace.created_at,
        updated_at=trace.updated_at,
        finalized_at=trace.finalized_at,
        tests_passed=trace.tests_passed,
        resolved=trace.resolved,
        reasoning_score=trace.reasoning_score,
        review_decision=trace.review_decision,
        human_score=trace.human_score,
    )


def to_event_read(event: Event) -> EventRead:
    return EventRead(
        event_id=uuid.UUID(event.event_id),
        seq=event.seq,
        type=event.event_type,
        timestamp=datetime.fromisoformat(event.event_timestamp),
        details=event.details,
        redactions=event.redactions,
    )


def to_trace_read(
    trace: Trace,
    events: Iterable[Event],
    qa_result: QaResult | None,
    consent: Any | None = None,
    curation: Curation | None = None,
    reviews: list[ReviewRead] | None = None,
) -> TraceRead:
    """The one shape of a whole trace: GET /api/traces/{id}, the judge's input and JSONL export rows.

    `consent` is the developer's developer_consent row (None: none recorded); `curation` overrides the
    stored one (computed on read for a trace finalized before curation existed); `reviews` as the reader
    may see them (reviews.shape); the judge's input carries none."""
    licence, trace_consent = trace_licence(consent)
    return TraceRead(
        **to_summary(trace).model_dump(),
        environment=_environment(trace.environment),
        licence=licence,
        consent=trace_consent,
        curation=curation if curation is not None else stored_curation(trace.curation),
        upstream_commit=trace.upstream_commit,
        duplicate_of=trace.duplicate_of,
        events=[to_event_read(event) for event in events],
        qa_results=qa_result.result if qa_result is not None else None,
        reviews=reviews if reviews is not None else [],
    )


def stored_curation(stored: Any) -> Curation | None:
    if isinstance(stored, str):  # an export reading JSON columns as text
        stored = json.loads(stored)
    if not isinstance(stored, dict):
        return None
    return Curation.model_validate(stored)


def _environment(stored: Any) -> RecordedEnvironment | None:
    if isinstance(stored, str):  # an export reading JSON columns as text
        stored = json.loads(stored)
    if not isinstance(stored, dict):
        return None
    # Validated when it was received; constructing without re-validating keeps big exports fast.
    return RecordedEnvironment.model_construct(**stored)


def get_trace_read(
    session: Session, trace_id: str, active_gap_s: float = DEFAULT_ACTIVE_GAP_S
) -> TraceRead | None:
    trace = get_trace(session, trace_id)
    if trace is None:
        return None
    return to_trace_read(
        trace,
        load_events(session, trace_id),
        get_qa_result(session, trace.latest_qa_result_id),
        consent=consent_repo.get(session, trace.developer_id),
        curation=curation_on_read(session, trace, active_gap_s),
    )


def curation_on_read(session: Session, trace: Any, active_gap_s: float) -> Curation | None:
    """The stored curation; for a finalized trace stored without one (before curation existed), computed
    now from its events, not stored (`bugtrail curation backfill` stores it). None while pending."""
    if trace.curation is not None or trace.status == "pending":
        return None  # to_trace_read uses the stored one
    return compute_trace_curation(session, trace.trace_id, trace.test_command, active_gap_s)


def compute_trace_curation(
    session: Session, trace_id: str, test_command: str | None, active_gap_s: float
) -> Curation:
    return compute_curation(iter_curation_pages(session, trace_id), test_command, active_gap_s)


def set_curation(session: Session, trace: Trace, curation: Curation) -> None:
    trace.curation = curation.model_dump(mode="json")
    session.flush()


def traces_without_curation(session: Session, after: str | None, limit: int, recompute: bool) -> list[Trace]:
    """Finalized traces (by trace_id, after `after`) whose curation is missing, or all with `recompute`."""
    query = select(Trace).where(Trace.status != "pending")
    if not recompute:
        query = query.where(Trace.curation.is_(None))
    if after is not None:
        query = query.where(Trace.trace_id > after)
    return list(session.scalars(query.order_by(Trace.trace_id).limit(limit)))


# Event pages adapt to the bytes they hold: a page of small events grows (fewer queries), a page of
# 1 MiB command outputs shrinks, so one page stays around PAGE_TARGET_BYTES whatever the trace holds.
PAGE_FIRST = 4
PAGE_MIN = 4
PAGE_MAX = 2000
PAGE_TARGET_BYTES = 8 * 1024 * 1024


def _page_bytes(rows: Sequence[Any]) -> int:
    total = 0
    for row in rows:
        details = row.details
        total += (
            len(details)
            if isinstance(details, str)
            else sum(len(value) for value in details.values() if isinstance(value, str))
        )
    return total


def iter_event_pages(session: Session, trace_id: str, json_as_text: bool = False) -> Iterator[list[Any]]:
    """A trace's events in order (ts_utc, seq), keyset-paginated: memory is one page, not the trace.
    Core rows with the model's attribute names (to_event_read accepts them)."""
    columns = [
        cast(column, Text).label(column.name) if json_as_text and column.name == "details" else column
        for column in _EVENT_TABLE.c
    ]
    return _pages(session, trace_id, columns, _page_bytes)


def _curation_columns() -> list[Any]:
    details = _EVENT_TABLE.c.details
    return [
        _EVENT_TABLE.c.seq,
        _EVENT_TABLE.c.event_type,
        _EVENT_TABLE.c.ts_utc,
        *(details[key].as_string().label(key) for key in _CURATION_KEYS),
    ]


# The detail fields curation reads, taken out in SQL so command outputs (up to 1 MiB each) are not read.
_CURATION_KEYS = ("file", "diff", "command", "exit_code", "duration_ms", "reasoning_type")


def _curation_page_bytes(rows: Sequence[Any]) -> int:
    return sum(len(row.diff or "") + len(row.command or "") for row in rows)


def iter_curation_pages(session: Session, trace_id: str) -> Iterator[list[Any]]:
    """A trace's events in order with only the fields traces.curation reads (rows shaped like
    curation.CurationEvent), keyset-paginated like iter_event_pages."""
    return _pages(session, trace_id, _curation_columns(), _curation_page_bytes)


def _pages(
    session: Session, trace_id: str, columns: list[Any], page_bytes: Callable[[Sequence[Any]], int]
) -> Iterator[list[Any]]:
    after: tuple[datetime, int] | None = None
    size = PAGE_FIRST
    while True:
        query = select(*columns).where(_EVENT_TABLE.c.trace_id == trace_id)
        if after is not None:
            ts_utc, seq = after
            query = query.where(
                or_(
                    _EVENT_TABLE.c.ts_utc > ts_utc,
                    and_(_EVENT_TABLE.c.ts_utc == ts_utc, _EVENT_TABLE.c.seq > seq),
                )
            )
        query = query.order_by(_EVENT_TABLE.c.ts_utc, _EVENT_TABLE.c.seq).limit(size)
        rows = list(session.execute(query))
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        after = (rows[-1].ts_utc, rows[-1].seq)
        used = page_bytes(rows)
        if used > PAGE_TARGET_BYTES:
            size = max(PAGE_MIN, size // 2)
        elif used < PAGE_TARGET_BYTES // 4:
            size = min(PAGE_MAX, size * 2)
