"""Enqueueing: a job row written in the caller's transaction, so it commits (or not) with its cause."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.db.models import Job, utcnow


def enqueue(
    session: Session,
    kind: str,
    *,
    max_attempts: int,
    trace_id: str | None = None,
    payload: dict[str, Any] | None = None,
    concurrency_key: str | None = None,
    run_after: datetime | None = None,
) -> Job:
    """Record a job of a registered kind; flush only (the caller's transaction owner commits)."""
    job = Job(
        kind=kind,
        trace_id=trace_id,
        concurrency_key=concurrency_key,
        state="queued",
        max_attempts=max_attempts,
        run_after=run_after or utcnow(),
        payload=payload,
    )
    session.add(job)
    session.flush()
    return job
