"""All job-queue SQL beyond enqueueing: claim, lease heartbeat, complete, retry, fail.

Claiming differs per dialect: PostgreSQL picks a row with `FOR UPDATE SKIP LOCKED` (concurrent workers never
wait for each other); SQLite has one writer at a time (BEGIN IMMEDIATE), and the claim is still a
compare-and-set UPDATE so it is correct whatever the locking. A job whose lease expired (its worker died) is
claimable again. Every state change after the claim is conditional on `worker_id`, so a worker that lost its
lease can no longer complete the job: at most one result per job.

Jobs may carry a `concurrency_key` (a webhook receiver): a claim skips keys that already have
`per_key_limit` jobs running under a live lease, so one slow receiver cannot take every slot. The limit is
exact on SQLite (one writer at a time) and best-effort across PostgreSQL workers claiming at the same instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import Job, utcnow

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def _claimable(now: datetime) -> Any:
    return or_(
        and_(Job.state == QUEUED, Job.run_after <= now),
        and_(Job.state == RUNNING, Job.lease_expires_at < now),
    )


def _due_query(
    now: datetime, kinds: tuple[str, ...] | None, per_key_limit: int | None, due_by: datetime | None
) -> Any:
    query = select(Job.id).where(_claimable(now))
    if due_by is not None:  # only what was due when a pass started (a retried job waits for the next pass)
        query = query.where(or_(Job.state == RUNNING, Job.run_after <= due_by))
    if kinds is not None:
        query = query.where(Job.kind.in_(kinds))
    if per_key_limit is not None:
        busy_keys = (
            select(Job.concurrency_key)
            .where(Job.state == RUNNING, Job.lease_expires_at >= now, Job.concurrency_key.is_not(None))
            .group_by(Job.concurrency_key)
            .having(func.count() >= per_key_limit)
        )
        query = query.where(or_(Job.concurrency_key.is_(None), Job.concurrency_key.not_in(busy_keys)))
    return query


def has_due_job(session: Session, kinds: tuple[str, ...] | None = None) -> bool:
    """A cheap read before a claim, so idle workers do not take SQLite's write lock on every poll."""
    return session.scalar(_due_query(utcnow(), kinds, None, None).limit(1)) is not None


def claim_next_job(
    session: Session,
    worker_id: str,
    lease_s: float,
    kinds: tuple[str, ...] | None = None,
    per_key_limit: int | None = None,
    due_by: datetime | None = None,
) -> Job | None:
    """Take the oldest due job (or one whose lease expired); the caller commits to make the claim stick."""
    now = utcnow()
    query = _due_query(now, kinds, per_key_limit, due_by).order_by(Job.run_after, Job.id).limit(1)
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


def get_job(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def active_job_for_trace(session: Session, trace_id: str) -> Job | None:
    return session.scalar(
        select(Job)
        .where(Job.trace_id == trace_id, Job.state.in_((QUEUED, RUNNING)))
        .order_by(Job.id)
        .limit(1)
    )


def count_jobs(session: Session, trace_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Job).where(Job.trace_id == trace_id)) or 0
