"""All export SQL: keyset-paginated trace batches with their events and newest QA result; export records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from bugtrail.consent import repository as consent_repo
from bugtrail.db.models import Event, ExportRecord, QaResult, Trace, utcnow
from bugtrail.export.filters import ExportFilters
from bugtrail.traces.curation import DEFAULT_ACTIVE_GAP_S
from bugtrail.traces.repository import curation_on_read
from bugtrail.wire import Curation


@dataclass
class TraceBundle:
    """One trace with its events (in order) and newest QA result.

    These are Core rows, not ORM instances: exports read hundreds of thousands of rows and building
    ORM objects was a fifth of the time. Rows expose the same attribute names as the models, so
    traces.repository.to_trace_read accepts them unchanged.
    """

    trace: Any  # Row shaped like Trace
    events: list[Any]  # Rows shaped like Event
    qa_result: Any | None  # Row shaped like QaResult
    consent: Any | None = None  # Row shaped like DeveloperConsent (None: none recorded)
    curation: Curation | None = None  # computed on read when the trace was stored without one


def _filtered(query: Select[Any], filters: ExportFilters) -> Select[Any]:
    conditions: list[ColumnElement[bool]] = []
    if filters.use == "external":
        conditions.append(consent_repo.external_use_condition())
    if filters.licence:
        conditions.append(consent_repo.licence_condition(filters.licence))
    if filters.status:
        conditions.append(Trace.status.in_(filters.status))
    if filters.tests_passed is not None:
        conditions.append(Trace.tests_passed.is_(filters.tests_passed))
    if filters.resolved is not None:
        conditions.append(Trace.resolved.is_(filters.resolved))
    if filters.upstream_match is not None:
        has_match = Trace.upstream_commit.is_not(None)
        conditions.append(has_match if filters.upstream_match else Trace.upstream_commit.is_(None))
    if filters.duplicate is not None:
        is_duplicate = Trace.duplicate_of.is_not(None)
        conditions.append(is_duplicate if filters.duplicate else Trace.duplicate_of.is_(None))
    qa_conditions: list[ColumnElement[bool]] = []
    if filters.outcome:
        qa_conditions.append(QaResult.outcome.in_(filters.outcome))
    if filters.error_kind:
        qa_conditions.append(QaResult.result["error_kind"].as_string().in_(filters.error_kind))
    if filters.patch_exact is not None:
        qa_conditions.append(QaResult.result["patch_exact"].as_boolean().is_(filters.patch_exact))
    if qa_conditions:  # fields of the newest QA result's document (no column of their own on trace)
        conditions.append(Trace.latest_qa_result_id.in_(select(QaResult.id).where(*qa_conditions)))
    if filters.min_reasoning_score is not None:
        conditions.append(Trace.reasoning_score >= filters.min_reasoning_score)
    if filters.max_reasoning_score is not None:
        conditions.append(Trace.reasoning_score <= filters.max_reasoning_score)
    if filters.developer_id is not None:
        conditions.append(Trace.developer_id == filters.developer_id)
    if filters.repo_url is not None:
        conditions.append(Trace.repo_url == filters.repo_url)
    if filters.created_after is not None:
        conditions.append(Trace.created_at >= filters.created_after)
    if filters.created_before is not None:
        conditions.append(Trace.created_at < filters.created_before)
    return query.where(*conditions) if conditions else query


def count_traces(session: Session, filters: ExportFilters) -> int:
    return int(session.scalar(_filtered(select(func.count()).select_from(Trace), filters)) or 0)


def iter_bundles(
    session: Session,
    filters: ExportFilters,
    batch_size: int = 500,
    json_as_text: bool = False,
    with_events: bool = True,
    active_gap_s: float = DEFAULT_ACTIVE_GAP_S,
) -> Iterator[list[TraceBundle]]:
    """Oldest first, keyset-paginated on (created_at, trace_id): memory is one batch, however many traces.

    json_as_text returns event details and QA documents as the database's JSON text (Parquet stores
    them as JSON strings anyway; skipping the decode/encode round trip is a third of its time).
    with_events=False leaves `events` empty: the caller pages through each trace's events itself
    (traces.repository.iter_event_pages), so one huge trace never sits in memory whole.
    """
    after: tuple[datetime, str] | None = None
    while True:
        query = _filtered(select(*_columns(Trace, json_as_text, "environment")), filters)
        if after is not None:
            created_at, trace_id = after
            query = query.where(
                or_(
                    Trace.created_at > created_at,
                    and_(Trace.created_at == created_at, Trace.trace_id > trace_id),
                )
            )
        traces = list(session.execute(query.order_by(Trace.created_at, Trace.trace_id).limit(batch_size)))
        if not traces:
            return
        events = (
            _events_by_trace(session, [trace.trace_id for trace in traces], json_as_text)
            if with_events
            else {}
        )
        qa = _qa_results(
            session,
            [t.latest_qa_result_id for t in traces if t.latest_qa_result_id is not None],
            json_as_text,
        )
        consents = consent_repo.for_developers(session, (trace.developer_id for trace in traces))
        yield [
            TraceBundle(
                trace,
                events.get(trace.trace_id, []),
                qa.get(trace.latest_qa_result_id) if trace.latest_qa_result_id is not None else None,
                consents.get(trace.developer_id),
                curation_on_read(session, trace, active_gap_s),
            )
            for trace in traces
        ]
        after = (traces[-1].created_at, traces[-1].trace_id)
        if len(traces) < batch_size:
            return


def _columns(model: Any, json_as_text: bool, json_column: str) -> list[Any]:
    return [
        cast(column, Text).label(column.name) if json_as_text and column.name == json_column else column
        for column in model.__table__.c
    ]


def _events_by_trace(session: Session, trace_ids: list[str], json_as_text: bool) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = {}
    query = (
        select(*_columns(Event, json_as_text, "details"))
        .where(Event.trace_id.in_(trace_ids))
        .order_by(Event.trace_id, Event.ts_utc, Event.seq)
    )
    for event in session.execute(query):
        grouped.setdefault(event.trace_id, []).append(event)
    return grouped


def _qa_results(session: Session, ids: list[int], json_as_text: bool) -> dict[int, Any]:
    if not ids:
        return {}
    return {
        row.id: row
        for row in session.execute(
            select(*_columns(QaResult, json_as_text, "result")).where(QaResult.id.in_(ids))
        )
    }


def start_record(
    session: Session, fmt: str, filters: dict[str, Any], requested_by: str | None
) -> ExportRecord:
    record = ExportRecord(requested_by=requested_by, format=fmt, filters=filters)
    session.add(record)
    session.flush()
    return record


def complete_record(session: Session, record_id: int, trace_count: int, byte_count: int, sha256: str) -> None:
    record = session.get(ExportRecord, record_id)
    if record is None:
        return
    record.trace_count = trace_count
    record.byte_count = byte_count
    record.sha256 = sha256
    record.completed_at = utcnow()
    session.flush()


def list_records(session: Session, limit: int = 100) -> list[ExportRecord]:
    return list(session.scalars(select(ExportRecord).order_by(ExportRecord.id.desc()).limit(limit)))


def get_record(session: Session, record_id: int) -> ExportRecord | None:
    return session.get(ExportRecord, record_id)
