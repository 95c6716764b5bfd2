"""SQL for QA results and the trace fields QA owns (status while QA runs, the denormalised verdict)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import Event, QaResult, Trace, utcnow


def set_trace_status(session: Session, trace_id: str, status: str) -> None:
    session.execute(
        update(Trace)
        .where(Trace.trace_id == trace_id)
        .values(status=status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def add_qa_result(
    session: Session,
    *,
    trace_id: str,
    job_id: int | None,
    outcome: str,
    document: dict[str, Any],
    qa_timestamp: datetime,
) -> QaResult:
    """Insert one result (unique per job) and point the trace at it; flush only."""
    row = QaResult(
        trace_id=trace_id,
        job_id=job_id,
        outcome=outcome,
        tests_passed=document.get("tests_passed"),
        resolved=document.get("resolved"),
        reasoning_score=document.get("reasoning_score"),
        judge_comments=document.get("judge_comments"),
        test_output=document.get("test_output"),
        error=document.get("error"),
        qa_timestamp=qa_timestamp,
        result=document,
    )
    session.add(row)
    session.flush()
    # The newest result wins the trace's denormalised fields; history stays in qa_result.
    row.result = {**document, "qa_result_id": row.id}
    upstream = document.get("upstream_match")
    session.execute(
        update(Trace)
        .where(Trace.trace_id == trace_id)
        .values(
            status="failed" if outcome == "error" else "completed",
            tests_passed=row.tests_passed,
            resolved=row.resolved,
            reasoning_score=row.reasoning_score,
            latest_qa_result_id=row.id,
            upstream_commit=upstream.get("commit") if isinstance(upstream, dict) else None,
            duplicate_of=document.get("duplicate_of"),
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row


def duplicate_candidates(
    session: Session,
    *,
    trace_id: str,
    repo_url: str,
    base_commit: str | None,
    created_at: datetime,
    limit: int,
) -> list[Any]:
    """Finalized traces of the same repository created before this one (id, bug, base_commit), at most
    `limit`: those at the same base_commit first (oldest first), then the newest of the others."""
    earlier = or_(
        Trace.created_at < created_at, and_(Trace.created_at == created_at, Trace.trace_id < trace_id)
    )
    columns = (Trace.trace_id, Trace.bug_description, Trace.base_commit, Trace.created_at)
    scope = select(*columns).where(
        Trace.repo_url == repo_url, Trace.trace_id != trace_id, Trace.finalized_at.is_not(None), earlier
    )
    same: list[Any] = []
    if base_commit is not None:
        query = scope.where(Trace.base_commit == base_commit).order_by(Trace.created_at, Trace.trace_id)
        same = list(session.execute(query.limit(limit)))
    others: list[Any] = []
    if len(same) < limit:
        other_base = (
            scope if base_commit is None else scope.where(Trace.base_commit.is_distinct_from(base_commit))
        )
        query = other_base.order_by(Trace.created_at.desc(), Trace.trace_id.desc())
        others = list(session.execute(query.limit(limit - len(same))))
    return same + others


def edit_details(session: Session, trace_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The edit events' details of these traces, in event order."""
    grouped: dict[str, list[dict[str, Any]]] = {trace_id: [] for trace_id in trace_ids}
    if not trace_ids:
        return grouped
    query = (
        select(Event.trace_id, Event.details)
        .where(Event.trace_id.in_(trace_ids), Event.event_type == "edit")
        .order_by(Event.trace_id, Event.ts_utc, Event.seq)
    )
    for row in session.execute(query):
        grouped[row.trace_id].append(row.details)
    return grouped
