"""The QA worker: claim a job, keep its lease alive while it runs, hand it to the pipeline, repeat.

One worker runs one job at a time; scale out with more workers (`bugtrail worker` on many machines against
one PostgreSQL). Stopping (SIGTERM, or .stop() on the embedded worker) lets the current job finish
("drain"); a worker that dies instead simply stops renewing its lease and another worker takes the job over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.jobs import repository as jobs
from bugtrail.qa import repository as qa_repo
from bugtrail.qa.pipeline import JobTicket, LeaseLost, run_qa_job

log = logging.getLogger("bugtrail.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Worker:
    settings: Settings
    database: Database
    worker_id: str = field(default_factory=new_worker_id)
    stopping: threading.Event = field(default_factory=threading.Event)
    jobs_done: int = 0

    def startup_cleanup(self) -> None:
        """Remove containers and scratch dirs that dead workers on this machine left behind."""
        from bugtrail.qa.replay import remove_orphan_scratch
        from bugtrail.qa.runner import remove_orphan_containers

        try:
            removed = remove_orphan_containers(self.settings)
            if removed:
                log.warning("removed %d orphaned QA container(s)", removed)
        except Exception as exc:  # no daemon yet is not a reason to refuse to start
            log.warning("orphan container clean-up skipped: %s", exc)
        remove_orphan_scratch(self.settings)

    def claim(self) -> JobTicket | None:
        with self.database.scope() as session:
            job = jobs.claim_next_job(session, self.worker_id, self.settings.job_lease_s)
            if job is None:
                return None
            qa_repo.set_trace_status(session, job.trace_id, "running")
            return JobTicket(job.id, job.trace_id, job.attempts, job.max_attempts)

    def run_once(self) -> bool:
        """Claim and process at most one job; False when the queue had nothing due."""
        ticket = self.claim()
        if ticket is None:
            return False
        log.info(
            "worker %s: job %s (trace %s, attempt %s)",
            self.worker_id,
            ticket.id,
            ticket.trace_id,
            ticket.attempts,
        )
        heartbeat = _Heartbeat(self.database, ticket.id, self.worker_id, self.settings.job_lease_s)
        heartbeat.start()
        try:
            state = run_qa_job(self.settings, self.database, ticket, self.worker_id)
            log.info("worker %s: job %s -> %s", self.worker_id, ticket.id, state)
        except LeaseLost:
            log.warning(
                "worker %s: lost the lease on job %s; its result was discarded", self.worker_id, ticket.id
            )
        finally:
            heartbeat.stop()
        self.jobs_done += 1
        return True

    def run(self, max_jobs: int | None = None) -> None:
        """Loop until stop() (or max_jobs processed); errors reaching here are logged and the loop goes on."""
        self.startup_cleanup()
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("worker %s: unexpected error; continuing", self.worker_id)
                worked = False
            if max_jobs is not None and self.jobs_done >= max_jobs:
                return
            if not worked:
                self.stopping.wait(self.settings.worker_poll_s)

    def stop(self) -> None:
        self.stopping.set()


class _Heartbeat:
    """Renews the job's lease every third of its length in its own transactions."""

    def __init__(self, database: Database, job_id: int, worker_id: str, lease_s: float) -> None:
        self.database, self.job_id, self.worker_id, self.lease_s = database, job_id, worker_id, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{job_id}", daemon=True)
        self.lost = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(max(self.lease_s / 3, 0.2)):
            try:
                with self.database.scope() as session:
                    if not jobs.extend_lease(session, self.job_id, self.worker_id, self.lease_s):
                        self.lost = True
                        return
            except Exception as exc:  # a database blip: try again next beat, the lease has slack
                log.warning("lease renewal for job %s failed: %s", self.job_id, exc)


class EmbeddedWorker:
    """A worker thread inside `bugtrail serve`; .stop() drains the current job, then returns."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.worker = Worker(settings, database)
        self.thread = threading.Thread(target=self.worker.run, name="bugtrail-qa-worker", daemon=True)

    def start(self) -> EmbeddedWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.worker.stop()
        self.thread.join(timeout)


def start_embedded_worker(settings: Settings, database: Database) -> EmbeddedWorker:
    return EmbeddedWorker(settings, database).start()
