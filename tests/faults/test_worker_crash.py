"""kill -9 of a QA worker mid-job, and the database restarted under the workers: every job completes once.

Runs `bugtrail worker` subprocesses against a private PostgreSQL (restartable). The traces have no
base_commit, so the test step is skipped without Docker; the judge is an OpenAI-compatible stub on
127.0.0.1 that takes a few seconds per answer, which is the window in which a worker is killed "mid-QA".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from bugtrail.auth.keys import create_key, find_active
from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.migrate import upgrade
from bugtrail.db.models import Job, QaResult, Trace
from bugtrail.traces import service
from bugtrail.wire import TraceCreate
from tests.support.openai_stub import Answer, Hang, OpenAIStub
from tests.support.server import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TRACES = 6


def seed_traces(url: str, data_dir: Path) -> list[str]:
    settings = Settings(data_dir=data_dir, database_url=url, embedded_worker=False)
    database = Database(settings)
    upgrade(database.engine)
    trace_ids = []
    with database.scope() as session:
        _, key = create_key(session, "alice", "developer")
        principal = find_active(session, key)
        assert principal is not None
        for i in range(TRACES):
            payload = TraceCreate.model_validate(
                {
                    "repo_url": "https://github.com/a/b",
                    "bug_description": f"bug {i}",
                    "events": [
                        {
                            "type": "reasoning",
                            "timestamp": "2026-11-26T10:00:00+00:00",
                            "details": {"text": f"hypothesis {i}: the cache", "reasoning_type": "hypothesis"},
                        }
                    ],
                }
            )
            trace_ids.append(
                str(service.create_trace(session, settings, principal, payload, finalize=True).trace_id)
            )
    database.dispose()
    return trace_ids


def start_worker(url: str, data_dir: Path, stub: OpenAIStub, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUGTRAIL_", "OPENAI_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT / "src"),
            "BUGTRAIL_DATABASE_URL": url,
            "BUGTRAIL_DATA_DIR": str(data_dir),
            "BUGTRAIL_JUDGE": "openai",
            "OPENAI_API_KEY": "sk-test-fault",
            "OPENAI_BASE_URL": stub.base_url,
            "BUGTRAIL_JUDGE_TIMEOUT_S": "30",
            "BUGTRAIL_JUDGE_RETRY_BASE_S": "0.1",
            "BUGTRAIL_JOB_LEASE_S": "3",
            "BUGTRAIL_JOB_RETRY_BASE_S": "0.5",
            "BUGTRAIL_WORKER_POLL_S": "0.2",
        }
    )
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bugtrail", "worker", "--log-level", "info"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(ROOT),
        )


def jobs_by_state(url: str) -> list[Job]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(Job)))  # type: ignore[arg-type]
    except Exception:
        return []  # the database is being restarted
    finally:
        engine.dispose()


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_worker_kill_and_database_restart_complete_every_job_once(private_postgres, tmp_path: Path) -> None:
    url = private_postgres.new_database()
    data_dir = tmp_path / "data"
    trace_ids = seed_traces(url, data_dir)
    workers: list[subprocess.Popen[bytes]] = []
    with OpenAIStub(default=Hang(2.5, then=Answer(score=4.0))) as stub:
        try:
            victim = start_worker(url, data_dir, stub, tmp_path / "worker-a.log")
            workers.append(victim)
            workers.append(start_worker(url, data_dir, stub, tmp_path / "worker-b.log"))

            def victim_is_mid_job() -> bool:
                return any(
                    job.state == "running" and f":{victim.pid}:" in (job.worker_id or "")
                    for job in jobs_by_state(url)
                )

            wait_for(victim_is_mid_job, 60, "worker A to be in the middle of a job")
            victim_job = next(
                job.id for job in jobs_by_state(url) if f":{victim.pid}:" in (job.worker_id or "")
            )
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)

            # While worker B is inside a job (waiting for the judge): crash and restart PostgreSQL.
            wait_for(lambda: any(job.state == "running" for job in jobs_by_state(url)), 30, "a running job")
            private_postgres.stop("immediate")
            time.sleep(1.0)
            private_postgres.start()
            workers.append(start_worker(url, data_dir, stub, tmp_path / "worker-c.log"))

            wait_for(
                lambda: (jobs := jobs_by_state(url)) and all(job.state in ("done", "failed") for job in jobs),
                120,
                "every job to finish",
            )
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.send_signal(signal.SIGKILL)
                    worker.wait(timeout=10)

    engine = create_engine(url)
    with engine.connect() as conn:
        jobs = list(conn.execute(select(Job)))
        results = list(conn.execute(select(QaResult)))
        traces = {row.trace_id: row for row in conn.execute(select(Trace))}
    engine.dispose()
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("worker-*.log"))
    assert sorted(job.trace_id for job in jobs) == sorted(trace_ids), "one job per finalized trace"
    assert all(job.state == "done" for job in jobs), [(job.id, job.state, job.last_error) for job in jobs] + [
        logs
    ]
    per_job = Counter(result.job_id for result in results)
    assert set(per_job) == {job.id for job in jobs} and set(per_job.values()) == {1}, (
        "exactly one result per job"
    )
    assert all(
        traces[t].status in ("completed", "failed") and traces[t].latest_qa_result_id for t in trace_ids
    )
    killed = next(job for job in jobs if job.id == victim_job)
    assert killed.attempts >= 2, "the killed worker's job was taken over, not finished by a ghost"
    assert all(result.reasoning_score == 4.0 for result in results), "each job was judged"
