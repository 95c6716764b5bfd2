"""SQL for QA results and the trace fields QA owns (status while QA runs, the denormalised verdict)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from bugtrail.db.models import QaResult, Trace, utcnow


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
    session.execute(
        update(Trace)
        .where(Trace.trace_id == trace_id)
        .values(
            status="failed" if outcome == "error" else "completed",
            tests_passed=row.tests_passed,
            resolved=row.resolved,
            reasoning_score=row.reasoning_score,
            latest_qa_result_id=row.id,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row
