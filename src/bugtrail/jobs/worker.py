"""The one worker loop: claim a job of a registered kind, keep its lease alive, run its handler, repeat.

The same loop runs embedded beside `bugtrail serve` (cli/background.py) and as `bugtrail worker`; scale out
with more workers against one PostgreSQL. Each kind gets `policy.concurrency` slots (threads) in a worker:
QA runs one at a time, webhook deliveries several, so a slow QA job never holds up a delivery. Stopping
(SIGTERM, or .stop()) lets the current jobs finish ("drain"); a worker that dies instead simply stops
renewing its leases and another worker takes its jobs over.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import utcnow
from bugtrail.jobs import repository as jobs
from bugtrail.jobs.registry import TaskRegistry
from bugtrail.jobs.task import ClaimedJob, JobContext, LeaseLost, TaskKind, TaskPolicy

log = logging.getLogger("bugtrail.worker")
ERROR_TEXT_LIMIT = 2000


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        registry: TaskRegistry,
        kinds: Iterable[str] | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.worker_id = worker_id or new_worker_id()
        names = tuple(kinds) if kinds is not None else registry.names()
        self.kinds: dict[str, TaskKind] = {name: registry.get(name) for name in names}
        self.policies: dict[str, TaskPolicy] = {
            name: kind.policy(settings) for name, kind in self.kinds.items()
        }
        self.stopping = threading.Event()
        self.jobs_done = 0
        self._count_lock = threading.Lock()

    def startup_cleanup(self) -> None:
        """Each kind's start-up hook (e.g. QA removes containers and scratch dirs dead workers left)."""
        for kind in self.kinds.values():
            if kind.on_worker_start is not None:
                kind.on_worker_start(self.settings)

    # -- one job ---------------------------------------------------------------------------------
    def claim(self, name: str, due_by: datetime | None = None) -> ClaimedJob | None:
        kind, policy = self.kinds[name], self.policies[name]
        with self.database.scope(read_only=True) as session:
            if not jobs.has_due_job(session, (name,)):
                return None
        with self.database.scope() as session:
            row = jobs.claim_next_job(
                session, self.worker_id, policy.lease_s, (name,), policy.per_key_limit, due_by
            )
            if row is None:
                return None
            claimed = ClaimedJob(
                id=row.id,
                kind=row.kind,
                trace_id=row.trace_id,
                attempts=row.attempts,
                max_attempts=policy.max_attempts or row.max_attempts,
                payload=dict(row.payload or {}),
            )
            if kind.on_claim is not None:
                kind.on_claim(session, claimed)
            return claimed

    def run_once(self, kinds: Iterable[str] | None = None, due_by: datetime | None = None) -> bool:
        """Claim and process at most one job (of the given kinds, in order); False when none was due."""
        for name in kinds if kinds is not None else self.kinds:
            job = self.claim(name, due_by)
            if job is not None:
                self.process(job)
                return True
        return False

    def process(self, job: ClaimedJob) -> None:
        kind, policy = self.kinds[job.kind], self.policies[job.kind]
        log.info("worker %s: %s job %s (attempt %s)", self.worker_id, job.kind, job.id, job.attempts)
        context = JobContext(self.settings, self.database, job, self.worker_id, policy)
        heartbeat = _Heartbeat(self.database, job.id, self.worker_id, policy.lease_s)
        heartbeat.start()
        try:
            kind.handler(context)
        except LeaseLost:
            log.warning(
                "worker %s: lost the lease on job %s; its result was discarded", self.worker_id, job.id
            )
        except Exception as exc:  # a handler bug or a database blip: retry with backoff, then fail
            log.exception("worker %s: %s job %s raised", self.worker_id, job.kind, job.id)
            self._settle_after_crash(context, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT])
        finally:
            heartbeat.stop()
        with self._count_lock:
            self.jobs_done += 1

    def _settle_after_crash(self, context: JobContext, error: str) -> None:
        try:
            with self.database.scope() as session:
                if context.job.attempts < context.job.max_attempts:
                    context.retry(session, error)
                else:
                    context.finish(session, jobs.FAILED, error)
        except LeaseLost:
            pass  # settled by its handler after all, or taken over: either way not ours to change
        except Exception as exc:  # the database is away: the lease expires and the job is claimed again
            log.warning("could not settle job %s (%s); its lease will expire", context.job.id, exc)

    def run_pending(self, kinds: Iterable[str] | None = None) -> int:
        """Process the jobs due now, one at a time, then return how many (tests, `worker --once`)."""
        started, count = utcnow(), 0
        names = tuple(kinds) if kinds is not None else tuple(self.kinds)
        while not self.stopping.is_set() and self.run_once(names, due_by=started):
            count += 1
        return count

    # -- the loop --------------------------------------------------------------------------------
    def run(self, max_jobs: int | None = None) -> None:
        """Run every kind's slots until stop() (or max_jobs processed), then drain and return."""
        self.startup_cleanup()
        slots = [
            threading.Thread(target=self._slot, args=(name, max_jobs), name=f"{name}-{i}", daemon=True)
            for name, policy in self.policies.items()
            for i in range(max(1, policy.concurrency))
        ]
        for slot in slots:
            slot.start()
        for slot in slots:
            slot.join()

    def _slot(self, name: str, max_jobs: int | None) -> None:
        while not self.stopping.is_set():
            try:
                worked = self.run_once((name,))
            except Exception:  # a database hiccup while claiming: wait a poll, then go on
                log.exception("worker %s: claiming a %s job failed; continuing", self.worker_id, name)
                worked = False
            if max_jobs is not None and self.jobs_done >= max_jobs:
                self.stopping.set()
            elif not worked:
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
    """The worker loop in a thread (inside `bugtrail serve`); .stop() drains the current jobs."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.thread = threading.Thread(target=worker.run, name="bugtrail-worker", daemon=True)

    def start(self) -> EmbeddedWorker:
        self.thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self.worker.stop()
        self.thread.join(timeout)
