"""All job-queue SQL beyond enqueueing: claim, lease heartbeat, complete, retry, fail.

Claiming differs per dialect: PostgreSQL picks a row with `FOR UPDATE SKIP LOCKED` (concurrent workers never
wait for each other); SQLite has one writer at a time (BEGIN IMMEDIATE), and the claim is still a
compare-and-set UPDATE so it is correct whatever the locking. A job whose lease expired (its worker died) is
claimable again. Every state change after the claim is conditional on `worker_id`, so a worker that lost its
lease can no longer complete the job: at most one result per job.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import Job, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.state == QUEUED, Job.run_after <= now),
        and_(Job.state == RUNNING, Job.lease_expires_at < now),
    )


def claim_next_job(
    session: Session, worker_id: str, lease_s: float, kinds: tuple[str, ...] = ("qa",)
) -> Job | None:
    """Take the oldest due job (or one whose lease expired); the caller commits to make the claim stick."""
    now = utcnow()
    query = (
        select(Job.id).where(Job.kind.in_(kinds), _claimable(now)).order_by(Job.run_after, Job.id).limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job_id = session.scalar(query)
    if job_id is None:
        return None
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, _claimable(now))
        .values(
            state=RUNNING,
            worker_id=worker_id,
            attempts=Job.attempts + 1,
            lease_expires_at=now + timedelta(seconds=lease_s),
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another worker won the race
    job = session.get(Job, job_id, populate_existing=True)
    return job


def extend_lease(session: Session, job_id: int, worker_id: str, lease_s: float) -> bool:
    """Heartbeat: False means this worker no longer owns the job."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.state == RUNNING)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish_job(
    session: Session, job_id: int, worker_id: str, state: str = DONE, error: str | None = None
) -> bool:
    """done or failed, only if this worker still owns it; False means the job was lost to another worker."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.state == RUNNING)
        .values(state=state, finished_at=utcnow(), lease_expires_at=None, last_error=error)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def retry_job(session: Session, job_id: int, worker_id: str, error: str, delay_s: float) -> bool:
    """Back to the queue after an infrastructure failure, due again in `delay_s`."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.state == RUNNING)
        .values(
            state=QUEUED,
            run_after=utcnow() + timedelta(seconds=delay_s),
            worker_id=None,
            lease_expires_at=None,
            last_error=error,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def release_job(session: Session, job_id: int, worker_id: str) -> bool:
    """Give a job back untouched (worker shutting down before it started): the attempt is not counted."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.worker_id == worker_id, Job.state == RUNNING)
        .values(state=QUEUED, worker_id=None, lease_expires_at=None, attempts=Job.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def active_job_for_trace(session: Session, trace_id: str) -> Job | None:
    return session.scalar(
        select(Job)
        .where(Job.trace_id == trace_id, Job.state.in_((QUEUED, RUNNING)))
        .order_by(Job.id)
        .limit(1)
    )


def jobs_for_trace(session: Session, trace_id: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.trace_id == trace_id).order_by(Job.id)))
