"""The job queue on SQLite and PostgreSQL: concurrent claims, lease expiry, retries, giving up."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import Job, QaResult, Trace
from bugtrail.jobs import queue
from bugtrail.jobs import repository as jobs
from bugtrail.jobs.registry import TaskRegistry
from bugtrail.jobs.task import JobContext, TaskPolicy
from bugtrail.jobs.worker import Worker
from bugtrail.qa.tasks import enqueue_qa_job
from bugtrail.tasks import build_worker


def add_trace(database: Database, **fields: object) -> str:
    trace_id = str(uuid.uuid4())
    with database.scope() as session:
        session.add(
            Trace(
                trace_id=trace_id,
                developer_id="alice",
                repo_url=str(fields.get("repo_url", "file:///srv/x")),
                bug_description="bug",
                base_commit=fields.get("base_commit", "a" * 40),
                status="queued",
                content_hash="0" * 64,
            )
        )
        session.flush()
        enqueue_qa_job(session, trace_id, max_attempts=int(fields.get("max_attempts", 3)))  # type: ignore[call-overload]
    return trace_id


def test_concurrent_workers_claim_each_job_exactly_once(database: Database) -> None:
    for _ in range(30):
        add_trace(database)
    claims: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def claim_all(worker_id: str) -> None:
        try:
            while True:
                with database.scope() as session:
                    job = jobs.claim_next_job(session, worker_id, lease_s=60)
                    if job is None:
                        return
                    with lock:
                        claims.append(job.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(claims) == 30 and set(Counter(claims).values()) == {1}
    with database.scope() as session:
        assert {job.state for job in session.query(Job)} == {"running"}
        assert {job.attempts for job in session.query(Job)} == {1}


def test_expired_lease_is_reclaimed_and_the_old_owner_is_locked_out(database: Database) -> None:
    add_trace(database)
    with database.scope() as session:
        first = jobs.claim_next_job(session, "dead", lease_s=0.3)
        assert first is not None
    with database.scope() as session:
        assert jobs.claim_next_job(session, "other", lease_s=60) is None  # lease still valid
    time.sleep(0.5)
    with database.scope() as session:
        second = jobs.claim_next_job(session, "other", lease_s=60)
        assert second is not None and second.id == first.id and second.attempts == 2
    with database.scope() as session:
        assert not jobs.extend_lease(session, first.id, "dead", 60)
        assert not jobs.finish_job(session, first.id, "dead")
        assert jobs.extend_lease(session, first.id, "other", 60)
        assert jobs.finish_job(session, first.id, "other")
        assert jobs.get_job(session, first.id).state == "done"  # type: ignore[union-attr]


def test_heartbeat_keeps_a_long_job_from_being_reclaimed(database: Database) -> None:
    from bugtrail.jobs.worker import _Heartbeat

    add_trace(database)
    with database.scope() as session:
        job = jobs.claim_next_job(session, "busy", lease_s=0.6)
        assert job is not None
    beat = _Heartbeat(database, job.id, "busy", lease_s=0.6)
    beat.start()
    try:
        time.sleep(1.5)
        with database.scope() as session:
            assert jobs.claim_next_job(session, "thief", lease_s=60) is None
    finally:
        beat.stop()
    assert not beat.lost


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")


def test_infrastructure_errors_retry_with_backoff_then_fail_the_trace(
    settings: Settings, database: Database, no_docker: None
) -> None:
    trace_id = add_trace(database, max_attempts=2)
    # A backoff long enough that a slow first attempt (CI under load) cannot outlast it before the check.
    worker = build_worker(settings.model_copy(update={"job_retry_base_s": 5.0}), database)
    assert worker.run_once()
    with database.scope() as session:
        job = session.query(Job).one()
        trace = session.get(Trace, trace_id)
        assert job.state == "queued" and job.attempts == 1 and "Docker" in (job.last_error or "")
        assert trace is not None and trace.status == "queued"
        assert session.query(QaResult).count() == 0
    assert not worker.run_once()  # backing off: not due yet
    deadline = time.monotonic() + 30
    while not worker.run_once():  # due after the backoff
        assert time.monotonic() < deadline, "the retry never became due"
        time.sleep(0.2)
    with database.scope() as session:
        job = session.query(Job).one()
        trace = session.get(Trace, trace_id)
        result = session.query(QaResult).one()
        assert job.state == "failed" and job.attempts == 2
        assert trace is not None and trace.status == "failed" and trace.latest_qa_result_id == result.id
        assert result.outcome == "error" and "no Docker daemon" in (result.error or "")
        assert result.tests_passed is None and result.result["error"] == result.error


def test_a_job_whose_workers_keep_dying_is_given_up(settings: Settings, database: Database) -> None:
    trace_id = add_trace(database, max_attempts=2)
    for _ in range(2):  # two workers claim it and die (their leases expire)
        with database.scope() as session:
            assert jobs.claim_next_job(session, f"doomed-{uuid.uuid4()}", lease_s=0.01) is not None
        time.sleep(0.05)
    assert build_worker(settings, database).run_once()
    with database.scope() as session:
        result = session.query(QaResult).one()
        assert result.outcome == "error" and "gave up" in (result.error or "")
        assert session.get(Trace, trace_id).status == "failed"  # type: ignore[union-attr]


def test_skipped_trace_is_a_result_not_a_retry(settings: Settings, database: Database) -> None:
    trace_id = add_trace(database, repo_url="https://example.org/not/allowed")
    assert build_worker(settings, database).run_once()
    with database.scope() as session:
        result = session.query(QaResult).one()
        assert result.outcome == "skipped" and "allowlist" in (result.error or "")
        assert session.query(Job).one().state == "done" and session.query(Job).one().attempts == 1
        assert session.get(Trace, trace_id).status == "completed"  # type: ignore[union-attr]


def _enqueue_plain(database: Database, kind: str, key: str | None = None, max_attempts: int = 3) -> int:
    with database.scope() as session:
        return queue.enqueue(session, kind, max_attempts=max_attempts, concurrency_key=key).id


def _test_policy(settings: Settings) -> TaskPolicy:
    return TaskPolicy(lease_s=30, retry_base_s=0.3, retry_max_s=0.3, concurrency=2, per_key_limit=1)


def test_a_kind_registered_by_its_domain_runs_in_the_one_loop(settings: Settings, database: Database) -> None:
    seen: list[tuple[int, int]] = []

    def handler(context: JobContext) -> None:
        seen.append((context.job.id, context.job.attempts))
        with database.scope() as session:
            context.finish(session)

    registry = TaskRegistry()
    registry.register("test.echo", handler, _test_policy)
    ids = [_enqueue_plain(database, "test.echo") for _ in range(3)]
    qa_trace = add_trace(database)  # a QA job in the same table is not this worker's business
    worker = Worker(settings, database, registry)
    assert worker.run_pending() == 3
    assert seen == [(job_id, 1) for job_id in ids]
    with database.scope() as session:
        states = {job.kind: job.state for job in session.query(Job)}
        assert states == {"test.echo": "done", "qa.run": "queued"}
        assert session.query(Job).filter(Job.trace_id == qa_trace).one().state == "queued"
    with pytest.raises(ValueError, match="already registered"):
        registry.register("test.echo", handler, _test_policy)
    with pytest.raises(KeyError, match=r"no handler registered for task kind 'test\.nope'"):
        Worker(settings, database, registry, kinds=["test.nope"])


def test_claims_skip_a_key_that_has_reached_its_limit(database: Database) -> None:
    first_a = _enqueue_plain(database, "test.echo", "receiver-a")
    _enqueue_plain(database, "test.echo", "receiver-a")
    only_b = _enqueue_plain(database, "test.echo", "receiver-b")
    claimed = []
    for worker_id in ("w1", "w2", "w3"):
        with database.scope() as session:
            job = jobs.claim_next_job(session, worker_id, 60, ("test.echo",), per_key_limit=1)
            claimed.append(job.id if job else None)
    assert claimed == [first_a, only_b, None]  # the second receiver-a job waits for the first
    with database.scope() as session:
        assert jobs.finish_job(session, first_a, "w1")
    with database.scope() as session:
        job = jobs.claim_next_job(session, "w4", 60, ("test.echo",), per_key_limit=1)
        assert job is not None and job.concurrency_key == "receiver-a"


def test_a_crashing_handler_is_retried_with_backoff_then_failed(
    settings: Settings, database: Database
) -> None:
    def handler(context: JobContext) -> None:
        raise RuntimeError(f"boom on attempt {context.job.attempts}")

    registry = TaskRegistry()
    registry.register("test.crash", handler, _test_policy)
    job_id = _enqueue_plain(database, "test.crash", max_attempts=2)
    worker = Worker(settings, database, registry)
    assert worker.run_once()
    with database.scope() as session:
        job = jobs.get_job(session, job_id)
        assert job is not None and (job.state, job.attempts) == ("queued", 1)
        assert "boom on attempt 1" in (job.last_error or "")
    assert not worker.run_once()  # backing off (0.3 s)
    time.sleep(0.4)
    assert worker.run_once()
    with database.scope() as session:
        job = jobs.get_job(session, job_id)
        assert job is not None and (job.state, job.attempts) == ("failed", 2)
        assert "boom on attempt 2" in (job.last_error or "")
