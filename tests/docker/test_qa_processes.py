"""Real processes: `bugtrail serve` with its embedded worker, standalone workers killed or stopped mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.buggy_repo import CALC, FIXED, NEW_TEST, TESTS, BuggyRepo, good_fix, qa_env, trace_body
from tests.support.server import BugtrailServer

SLOW_FIX = "import time\n\ntime.sleep(12)\n\n" + FIXED  # only the "after" run imports it slowly


def api(server: BugtrailServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {server.admin_key}"}, timeout=30
    )


def start_worker(server: BugtrailServer) -> subprocess.Popen[str]:
    # Output goes to a file, never an unread pipe: a worker that fills a 64 KiB pipe blocks on its next line.
    log_path = server.data_dir.parent / f"worker-{time.monotonic_ns()}.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bugtrail", "worker", "--log-level", "warning"],
            env=server.environment(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
        )
    proc.log_path = log_path  # type: ignore[attr-defined]
    return proc


def worker_log(worker: subprocess.Popen[str]) -> str:
    path: Path = worker.log_path  # type: ignore[attr-defined]
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def runner_containers(pid: int) -> list[Any]:
    from bugtrail.qa.docker_api import docker_client

    client = docker_client()
    try:
        # Sparse: no inspect per container, so a short-lived one (an edit-apply container) that is gone
        # between the list and the inspect cannot fail the listing.
        return list(client.containers.list(all=True, sparse=True, filters={"label": f"bugtrail.pid={pid}"}))
    finally:
        client.close()


def finished(http: httpx.Client, trace_id: str) -> dict[str, Any] | None:
    trace = http.get(f"/api/traces/{trace_id}").json()
    return trace if trace["status"] in ("completed", "failed") else None


def test_serve_with_embedded_worker_keeps_serving_during_qa(
    tmp_path: Path, repos_dir: Path, buggy_repo: BuggyRepo, runner_image: str
) -> None:
    server = BugtrailServer(
        data_dir=tmp_path / "server-data",
        worker=True,
        env=qa_env(
            repos_dir,
            BUGTRAIL_TEST_TIMEOUT_S="5",
            BUGTRAIL_RUNNER_IMAGE=runner_image,
        ),
    )
    server.start()
    try:
        server.read_first_start_key()
        latencies: list[float] = []
        failures: list[str] = []
        stop = threading.Event()

        def poll_health() -> None:
            with httpx.Client(base_url=server.url, timeout=10) as probe:
                while not stop.is_set():
                    started = time.monotonic()
                    response = probe.get("/healthz")
                    latencies.append(time.monotonic() - started)
                    if response.status_code != 200:
                        failures.append(response.text)
                    time.sleep(0.1)

        poller = threading.Thread(target=poll_health, daemon=True)
        poller.start()
        with api(server) as http:
            hang = trace_body(
                buggy_repo.url,
                buggy_repo.base_commit,
                [
                    (
                        "tests/test_calc.py",
                        TESTS,
                        NEW_TEST + "\n\ndef test_hang():\n    while True:\n        pass\n",
                    ),
                ],
            )
            flood = trace_body(
                buggy_repo.url,
                buggy_repo.base_commit,
                [("calc.py", CALC, FIXED)],
                test_command="yes flood | head -c 300000000",
            )
            background = [
                http.post("/api/traces?finalize=true", json=b).json()["trace_id"] for b in (hang, flood)
            ]
            trace_id = http.post("/api/traces", json=good_fix(buggy_repo)).json()["trace_id"]
            done = http.post(f"/api/traces/{trace_id}/finalize", params={"wait": 180}, timeout=200)
            assert done.status_code == 200, (done.text, server.log_tail())
            body = done.json()
            assert body["status"] == "completed"
            assert body["qa_results"]["resolved"] is True and body["qa_results"]["tests_passed"] is True
            assert body["qa_results"]["fail_to_pass"] == ["tests/test_calc.py::test_add"]
            for other in background:
                trace = wait_for(lambda t=other: finished(http, t), 120, "background traces")
                assert trace["qa_results"]["outcome"] == "completed"
        stop.set()
        poller.join()
        assert not failures and len(latencies) > 10
        assert max(latencies) < 2.0, f"healthz took {max(latencies):.2f}s while QA ran"
    finally:
        server.stop()


def test_worker_killed_mid_job_is_finished_by_another_exactly_once(
    server: BugtrailServer, buggy_repo: BuggyRepo
) -> None:
    body = trace_body(
        buggy_repo.url,
        buggy_repo.base_commit,
        [
            ("tests/test_calc.py", TESTS, NEW_TEST),
            ("calc.py", CALC, SLOW_FIX),
        ],
    )
    with api(server) as http:
        trace_id = http.post("/api/traces?finalize=true", json=body).json()["trace_id"]
        first = start_worker(server)
        try:
            wait_for(
                lambda: any(
                    c.attrs.get("State") == "running"
                    and "after" in (c.attrs.get("Labels") or {}).get("bugtrail.run", "")
                    for c in runner_containers(first.pid)
                ),
                60,
                "the first worker's after-run",
            )
            assert http.get(f"/api/traces/{trace_id}").json()["status"] == "running"
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        second = start_worker(server)
        try:
            trace = wait_for(lambda: finished(http, trace_id), 120, "the second worker to finish")
            # The second worker removed the dead worker's container at start.
            assert runner_containers(first.pid) == []
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=60)
        assert trace["status"] == "completed"
        qa = trace["qa_results"]
        assert qa["resolved"] is True and qa["attempt"] == 2
        history = http.get(f"/api/traces/{trace_id}/qa/results").json()
        assert len(history) == 1 and history[0]["job_id"] == qa["job_id"]


def test_sigterm_drains_the_current_job(server: BugtrailServer, buggy_repo: BuggyRepo) -> None:
    body = trace_body(buggy_repo.url, buggy_repo.base_commit, [("calc.py", CALC, SLOW_FIX)])
    with api(server) as http:
        trace_id = http.post("/api/traces?finalize=true", json=body).json()["trace_id"]
        worker = start_worker(server)
        try:
            wait_for(lambda: http.get(f"/api/traces/{trace_id}").json()["status"] == "running", 60, "claim")
            os.kill(worker.pid, signal.SIGTERM)
            try:
                code = worker.wait(timeout=120)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"the worker did not drain in 120 s; its log:\n{worker_log(worker)}"
                ) from None
            assert code == 0, worker_log(worker)
        finally:
            if worker.poll() is None:
                worker.kill()
        trace = http.get(f"/api/traces/{trace_id}").json()
        assert trace["status"] == "completed" and trace["qa_results"]["tests_passed"] is True
