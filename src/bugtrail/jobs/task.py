"""What a task kind is (handler + policy) and what its handler gets (the claimed job and a context)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.jobs import repository
from bugtrail.jobs.backoff import retry_delay_s


class LeaseLost(Exception):
    """Another worker took the job over (this worker's lease expired); nothing of ours may be stored."""


@dataclass(frozen=True)
class TaskPolicy:
    """How the queue runs one kind: lease, retries, and how many run at once."""

    lease_s: float
    retry_base_s: float
    retry_max_s: float
    retry_jitter: float = 0.0
    concurrency: int = 1  # jobs of this kind one worker process runs at the same time
    per_key_limit: int | None = None  # at most this many running jobs per concurrency_key (e.g. receiver)
    max_attempts: int | None = None  # overrides the row's max_attempts (a setting read at run time)


@dataclass(frozen=True)
class ClaimedJob:
    """A claimed job, detached from any session."""

    id: int
    kind: str
    trace_id: str | None
    attempts: int
    max_attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class JobContext:
    """Handed to a handler: the job, who runs it, and the two ways to settle it."""

    settings: Settings
    database: Database
    job: ClaimedJob
    worker_id: str
    policy: TaskPolicy

    def retry_delay_s(self) -> float:
        p = self.policy
        return retry_delay_s(p.retry_base_s, p.retry_max_s, self.job.attempts, p.retry_jitter)

    def finish(self, session: Session, state: str = repository.DONE, error: str | None = None) -> None:
        """done or failed, in the caller's transaction; raises LeaseLost when this worker lost the job."""
        if not repository.finish_job(session, self.job.id, self.worker_id, state, error):
            raise LeaseLost(self.job.id)

    def retry(self, session: Session, error: str, delay_s: float | None = None) -> float:
        """Back to the queue, due after the backoff; raises LeaseLost when this worker lost the job."""
        delay = self.retry_delay_s() if delay_s is None else delay_s
        if not repository.retry_job(session, self.job.id, self.worker_id, error, delay):
            raise LeaseLost(self.job.id)
        return delay


Handler = Callable[[JobContext], None]
OnClaim = Callable[[Session, ClaimedJob], None]
OnStart = Callable[[Settings], None]
PolicyFactory = Callable[[Settings], TaskPolicy]


@dataclass(frozen=True)
class TaskKind:
    """A named kind of job. The handler settles its job (ctx.finish / ctx.retry) in its own transaction,
    together with the result it stores; an exception escaping it is retried with backoff, then failed."""

    name: str
    handler: Handler
    policy: PolicyFactory
    on_claim: OnClaim | None = None  # runs in the claim's transaction (e.g. mark the trace "running")
    on_worker_start: OnStart | None = None  # clean-up a worker does once before its loop
