"""QA rules exposed over HTTP: re-run QA on a finished trace, read a trace's QA history."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.db.models import Trace
from bugtrail.errors import Conflict, NotFound
from bugtrail.jobs import repository as jobs
from bugtrail.qa import repository as qa_repo
from bugtrail.qa.tasks import enqueue_qa_job
from bugtrail.reviews.visibility import blind_document, trace_view
from bugtrail.traces import repository as traces


class RerunResult(BaseModel):
    trace_id: str
    job_id: int
    status: str
    already_queued: bool


class QaHistoryItem(BaseModel):
    qa_result_id: int
    job_id: int | None
    outcome: str
    tests_passed: bool | None
    resolved: bool | None
    reasoning_score: float | None
    qa_timestamp: str
    latest: bool
    result: dict[str, Any]


def _trace_for(session: Session, principal: Principal, trace_id: str, lock: bool = False) -> Trace:
    trace = traces.get_trace(session, trace_id, for_update=lock)
    if trace is None or (not principal.can_read_all and trace.developer_id != principal.developer_id):
        raise NotFound(f"trace {trace_id} not found")
    return trace


def rerun_qa(session: Session, settings: Settings, principal: Principal, trace_id: str) -> RerunResult:
    """Queue a fresh QA run; one already queued or running is returned instead of a second one."""
    trace = _trace_for(session, principal, trace_id, lock=True)
    if trace.status == "pending":
        raise Conflict(f"trace {trace_id} is not finalized; finalize it first")
    active = jobs.active_job_for_trace(session, trace_id)
    if active is not None:
        return RerunResult(trace_id=trace_id, job_id=active.id, status=trace.status, already_queued=True)
    job = enqueue_qa_job(session, trace_id, max_attempts=settings.job_max_attempts, payload={"rerun": True})
    qa_repo.set_trace_status(session, trace_id, "queued")
    return RerunResult(trace_id=trace_id, job_id=job.id, status="queued", already_queued=False)


def qa_history(session: Session, principal: Principal, trace_id: str) -> list[QaHistoryItem]:
    trace = _trace_for(session, principal, trace_id)
    # A reviewer who has not reviewed the trace yet sees no judge score (the blind rule).
    blind = trace_view(session, principal, trace_id, trace.developer_id) == "blind"
    return [
        QaHistoryItem(
            qa_result_id=row.id,
            job_id=row.job_id,
            outcome=row.outcome,
            tests_passed=row.tests_passed,
            resolved=row.resolved,
            reasoning_score=None if blind else row.reasoning_score,
            qa_timestamp=row.qa_timestamp.isoformat(),
            latest=row.id == trace.latest_qa_result_id,
            result=blind_document(row.result) if blind else row.result,
        )
        for row in traces.list_qa_results(session, trace_id)
    ]
