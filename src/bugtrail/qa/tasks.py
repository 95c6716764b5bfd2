"""The QA domain's task kind: "qa.run" jobs, enqueued by finalize and rerun, run by qa.pipeline."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.config import Settings
from bugtrail.db.models import Job
from bugtrail.jobs import queue
from bugtrail.jobs.registry import TaskRegistry
from bugtrail.jobs.task import ClaimedJob, JobContext, LeaseLost, TaskPolicy

QA_RUN = "qa.run"

log = logging.getLogger("bugtrail.worker")


def enqueue_qa_job(
    session: Session, trace_id: str, max_attempts: int, payload: dict[str, Any] | None = None
) -> Job:
    """Record a QA run; it commits (or not) together with the write that caused it."""
    return queue.enqueue(session, QA_RUN, trace_id=trace_id, max_attempts=max_attempts, payload=payload)


def qa_policy(settings: Settings) -> TaskPolicy:
    # One QA run per worker at a time: a run already uses two containers and a CPU each.
    return TaskPolicy(
        lease_s=settings.job_lease_s,
        retry_base_s=settings.job_retry_base_s,
        retry_max_s=settings.job_retry_max_s,
        concurrency=1,
    )


def run_qa_task(context: JobContext) -> None:
    from bugtrail.qa import pipeline

    job = context.job
    if job.trace_id is None:
        with context.database.scope() as session:
            context.finish(session, "failed", "a qa.run job needs a trace_id")
        return
    ticket = pipeline.JobTicket(job.id, job.trace_id, job.attempts, job.max_attempts)
    try:
        state = pipeline.run_qa_job(context.settings, context.database, ticket, context.worker_id)
    except pipeline.LeaseLost as exc:
        raise LeaseLost(job.id) from exc
    log.info("worker %s: job %s -> %s", context.worker_id, job.id, state)


def mark_trace_running(session: Session, job: ClaimedJob) -> None:
    from bugtrail.qa import repository as qa_repo

    if job.trace_id is not None:
        qa_repo.set_trace_status(session, job.trace_id, "running")


def remove_orphans(settings: Settings) -> None:
    """Remove containers and scratch dirs that dead workers on this machine left behind."""
    from bugtrail.qa.replay import remove_orphan_scratch
    from bugtrail.qa.runner import remove_orphan_containers

    try:
        removed = remove_orphan_containers(settings)
        if removed:
            log.warning("removed %d orphaned QA container(s)", removed)
    except Exception as exc:  # no daemon yet is not a reason to refuse to start
        log.warning("orphan container clean-up skipped: %s", exc)
    remove_orphan_scratch(settings)


def register(registry: TaskRegistry) -> None:
    registry.register(
        QA_RUN, run_qa_task, qa_policy, on_claim=mark_trace_running, on_worker_start=remove_orphans
    )
