"""The durable job queue lives in the database: enqueueing happens in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bugtrail.db.models import Job, utcnow

QA_JOB = "qa"


def enqueue_qa_job(
    session: Session, trace_id: str, max_attempts: int, payload: dict[str, Any] | None = None
) -> Job:
    """Record a QA job; it commits (or not) together with the write that caused it."""
    job = Job(
        kind=QA_JOB,
        trace_id=trace_id,
        state="queued",
        max_attempts=max_attempts,
        run_after=utcnow(),
        payload=payload,
    )
    session.add(job)
    session.flush()
    return job


def count_jobs(session: Session, trace_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Job).where(Job.trace_id == trace_id)) or 0
