"""The compose deployment for real: build images locally, `docker-compose up`, post a trace, a worker QA's it.

Host networking bound to 127.0.0.1 on free ports (the daemon here has no bridge network), a unique project
name, and `docker-compose down -v` afterwards. The QA'd repository is a local git repo inside
BUGTRAIL_WORK_DIR, which the workers see at the same path as the host (file:// URL, allowlisted).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.buggy_repo import BuggyRepo, good_fix, make_buggy_repo
from tests.support.server import free_port

pytestmark = [pytest.mark.docker, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Host networking is what the daemon here (no default bridge) needs and what CI exercises; the plain
# `docker-compose up` files (project bridge network, ports published on 127.0.0.1) are exercised too.
COMPOSE_FILES = {
    "host-network": "compose.yaml:docker/compose.host-network.yaml",
    "bridge-network": "compose.yaml:compose.override.yaml",
}
COMPOSE_BIN = shutil.which("docker-compose")


@dataclass
class Stack:
    project: str
    files: str
    env: dict[str, str]
    api_url: str
    work_dir: Path
    timings: dict[str, float] = field(default_factory=dict)

    def compose(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        files = [arg for name in self.files.split(":") for arg in ("-f", name)]
        done = subprocess.run(
            [COMPOSE_BIN or "docker-compose", *files, *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def logs(self, service: str = "", tail: int = 60) -> str:
        return self.compose(
            "logs", "--no-color", f"--tail={tail}", *([service] if service else []), check=False
        ).stdout

    def container_health(self, service: str) -> list[str]:
        ids = self.compose("ps", "-q", service).stdout.split()
        if not ids:
            return []
        inspected = json.loads(
            subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout
        )
        return [(c["State"].get("Health") or {}).get("Status", c["State"]["Status"]) for c in inspected]

    def wait_healthy(self, service: str, count: int, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            states = self.container_health(service)
            if states.count("healthy") == count and len(states) == count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{service}: want {count} healthy, have {states}\n{self.logs(service)}")
            time.sleep(1)


@pytest.fixture(scope="module", params=sorted(COMPOSE_FILES, reverse=True))
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if COMPOSE_BIN is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no Docker daemon answers (run scripts/setup-docker.sh)")
    # Not under pytest's basetemp (mode 0700 for its owner): the worker runs as another uid when we are root.
    work_dir = Path(tempfile.mkdtemp(prefix="bugtrail-compose-work-"))
    (work_dir / "repos").mkdir()
    worker_uid, worker_gid = worker_ids()
    hand_to_worker(work_dir)
    api_port, postgres_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUGTRAIL_", "OPENAI_", "COMPOSE_"))}
    env.update(
        COMPOSE_PROJECT_NAME=f"bttest{uuid.uuid4().hex[:10]}",
        BUGTRAIL_COMPOSE_FILES=COMPOSE_FILES[request.param],
        BUGTRAIL_BIND_ADDRESS="127.0.0.1",
        BUGTRAIL_API_PORT=str(api_port),
        BUGTRAIL_POSTGRES_PORT=str(postgres_port),
        BUGTRAIL_WORK_DIR=str(work_dir),
        BUGTRAIL_REPO_ALLOWLIST=f"file://{work_dir}/repos/",
        BUGTRAIL_JUDGE="heuristic",
        POSTGRES_PASSWORD=secrets.token_hex(16),
        BUGTRAIL_WORKERS="1",
        BUGTRAIL_WORKER_UID=str(worker_uid),
        BUGTRAIL_WORKER_GID=str(worker_gid),
        BUGTRAIL_DOCKER_GID=str(os.stat("/var/run/docker.sock").st_gid),
    )
    stack = Stack(
        env["COMPOSE_PROJECT_NAME"],
        env["BUGTRAIL_COMPOSE_FILES"],
        env,
        f"http://127.0.0.1:{api_port}",
        work_dir,
    )
    try:
        started = time.monotonic()
        # Builds what is missing (base/runner images, wheelhouse, service + postgres images), `up -d`, waits
        # for postgres, api and the worker to be healthy.
        done = subprocess.run(
            [str(ROOT / "scripts" / "compose-up-local.sh")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
        stack.timings["compose_up_local_s"] = time.monotonic() - started
        assert done.returncode == 0, (
            f"compose-up-local.sh failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
        )
        took = stack.timings["compose_up_local_s"]
        print(f"\n{stack.project} ({request.param}): compose-up-local.sh took {took:.1f}s")
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=180, check=False)
        # The workers and their test containers (the worker's uid) wrote into the work dir; root in CI.
        shutil.rmtree(work_dir, ignore_errors=True)


def admin_key(stack: Stack) -> str:
    done = stack.compose(
        "exec",
        "-T",
        "api",
        "bugtrail",
        "keys",
        "create",
        "--developer",
        "deploy-admin",
        "--role",
        "admin",
        "--label",
        "compose test",
    )
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("btk_"), done.stdout
    return key


def wait_for_qa(stack: Stack, client: httpx.Client, trace_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        trace = client.get(f"/api/traces/{trace_id}")
        assert trace.status_code == 200, trace.text
        body: dict[str, Any] = trace.json()
        if body["status"] in ("completed", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"trace {trace_id} still {body['status']}\n{stack.logs('worker')}")
        time.sleep(1)


WORKER_UID = 10001  # the service image's `bugtrail` user


def worker_ids() -> tuple[int, int]:
    """The workers run as `bugtrail` when we are root (as in CI), else as us (so they can use our files)."""
    return (WORKER_UID, WORKER_UID) if os.getuid() == 0 else (os.getuid(), os.getgid())


def hand_to_worker(path: Path) -> None:
    """Make `path` the worker's (git refuses to clone a repository another user owns)."""
    uid, gid = worker_ids()
    if os.getuid() != 0:
        return
    for root, dirs, files in os.walk(path):
        os.lchown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def post_trace(client: httpx.Client, repo: BuggyRepo) -> str:
    """A complete trace in one request, finalized (so a QA job is queued in the same transaction)."""
    created = client.post("/api/traces", params={"finalize": "true"}, json=good_fix(repo))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "queued", created.text
    return str(created.json()["trace_id"])


def test_compose_files_are_valid_for_this_compose() -> None:
    if COMPOSE_BIN is None:
        pytest.skip("docker-compose is not installed")
    env = {**os.environ, "BUGTRAIL_DATABASE_URL": "postgresql+psycopg://u:p@db.example:5432/bugtrail"}
    for files in (
        ["compose.yaml"],
        ["compose.yaml", "compose.override.yaml"],
        ["compose.yaml", "docker/compose.host-network.yaml"],
        ["docker/compose.worker.yaml"],
    ):
        args = [arg for name in files for arg in ("-f", name)]
        done = subprocess.run(
            [COMPOSE_BIN, *args, "config", "--services"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"{files}: {done.stderr}"
        services = set(done.stdout.split())
        assert "worker" in services, files
        if "compose.yaml" in files:
            assert services == {"postgres", "migrate", "api", "worker"}, files
    # Only the workers get the Docker socket.
    done = subprocess.run(
        [COMPOSE_BIN, "-f", "compose.yaml", "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.count("/var/run/docker.sock:/var/run/docker.sock") == 1


def test_trace_posted_to_the_deployment_is_qad_by_a_worker(stack: Stack) -> None:
    health = httpx.get(f"{stack.api_url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "postgresql", health.text
    migrate_id = stack.compose("ps", "-q", "migrate").stdout.strip()
    assert migrate_id, "the migrate step ran"
    inspected = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.ExitCode}}", migrate_id],
        capture_output=True,
        text=True,
        check=True,
    )
    assert inspected.stdout.strip() == "0"

    # The worker is not root: it runs as the worker uid, in the Docker socket's group.
    ids = stack.compose("exec", "-T", "worker", "id").stdout
    assert "uid=0(" not in ids and f"uid={worker_ids()[0]}" in ids, ids
    assert (
        f",{os.stat('/var/run/docker.sock').st_gid}" in ids
        or f"={os.stat('/var/run/docker.sock').st_gid}" in ids
    )

    repo = make_buggy_repo(stack.work_dir / "repos" / "calc")
    hand_to_worker(stack.work_dir / "repos")
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {admin_key(stack)}"}, timeout=30
    ) as client:
        started = time.monotonic()
        trace = wait_for_qa(stack, client, post_trace(client, repo))
        stack.timings["first_qa_s"] = time.monotonic() - started
    qa = trace["qa_results"]
    assert trace["status"] == "completed", trace
    assert qa["outcome"] == "completed", qa
    assert qa["resolved"] is True and qa["tests_passed"] is True, qa
    # The API runs without an embedded worker: the job was done by the worker container.
    assert f"job {qa['job_id']} ->" in stack.logs("worker", tail=500)
    print(f"first QA through the deployment: {stack.timings['first_qa_s']:.1f}s")


def test_workers_scale_out(stack: Stack) -> None:
    started = time.monotonic()
    stack.compose("up", "-d", "--no-build", "--no-recreate", "--scale", "worker=2")
    stack.wait_healthy("worker", 2)
    stack.timings["scale_to_2_s"] = time.monotonic() - started

    repos = [make_buggy_repo(stack.work_dir / "repos" / f"calc-{i}") for i in range(2)]
    hand_to_worker(stack.work_dir / "repos")
    with httpx.Client(
        base_url=stack.api_url, headers={"Authorization": f"Bearer {admin_key(stack)}"}, timeout=30
    ) as client:
        posted = [post_trace(client, repo) for repo in repos]
        traces = [wait_for_qa(stack, client, trace_id) for trace_id in posted]
    assert [t["status"] for t in traces] == ["completed", "completed"], traces
    assert all(t["qa_results"]["resolved"] for t in traces)
    # Both jobs were run by workers of this deployment, each exactly once.
    worker_logs = stack.logs("worker", tail=1000)
    for trace in traces:
        assert worker_logs.count(f"job {trace['qa_results']['job_id']} ->") == 1, worker_logs
    # Each worker container has its own data dir (scratch trees, QA logs) under the shared work dir.
    assert len(list((stack.work_dir / "workers").iterdir())) == 2
    assert all(t["qa_results"]["log_dir"].startswith(f"{stack.work_dir}/workers/") for t in traces)
    print(f"scaled to 2 workers in {stack.timings['scale_to_2_s']:.1f}s")


def test_worker_on_another_machine_uses_the_worker_only_file(stack: Stack) -> None:
    """docker/compose.worker.yaml against the deployment's published PostgreSQL, with its own work dir."""
    stack.compose("stop", "--timeout", "10", "worker")  # only the "remote" worker may take the next job
    remote_work = Path(tempfile.mkdtemp(prefix="bugtrail-remote-worker-work-"))
    hand_to_worker(remote_work)
    env = {
        **stack.env,
        "COMPOSE_PROJECT_NAME": f"{stack.project}remote",
        "BUGTRAIL_NETWORK_MODE": "host",
        "BUGTRAIL_WORK_DIR": str(remote_work),
        "BUGTRAIL_REPO_ALLOWLIST": f"file://{remote_work}/repos/",
        "BUGTRAIL_DATABASE_URL": (
            f"postgresql+psycopg://bugtrail:{stack.env['POSTGRES_PASSWORD']}"
            f"@127.0.0.1:{stack.env['BUGTRAIL_POSTGRES_PORT']}/bugtrail"
        ),
    }
    remote = Stack(env["COMPOSE_PROJECT_NAME"], "docker/compose.worker.yaml", env, stack.api_url, remote_work)
    try:
        remote.compose("up", "-d", "--no-build")
        remote.wait_healthy("worker", 1)
        repo = make_buggy_repo(remote_work / "repos" / "calc")
        hand_to_worker(remote_work / "repos")
        with httpx.Client(
            base_url=stack.api_url, headers={"Authorization": f"Bearer {admin_key(stack)}"}, timeout=30
        ) as client:
            trace = wait_for_qa(remote, client, post_trace(client, repo))
        assert trace["status"] == "completed" and trace["qa_results"]["resolved"] is True, trace
        assert f"job {trace['qa_results']['job_id']} ->" in remote.logs("worker", tail=500)
    finally:
        remote.compose("down", "-v", "--timeout", "10", timeout=180, check=False)
        shutil.rmtree(remote_work, ignore_errors=True)
