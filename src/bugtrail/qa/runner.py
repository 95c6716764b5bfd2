"""Run one test command in a locked-down container and save its logs (SWE-bench style fixed file names).

Hardening: no network, read-only root with a tmpfs /tmp, the scratch dir the only writable mount (the clone
cache mirror is mounted read-only), all capabilities dropped, no-new-privileges, a non-root user, pids/memory/
CPU/file-size limits, a wall-clock timeout, output streamed through a head+tail cap. Containers carry labels
and are removed in `finally`; `remove_orphan_containers` sweeps what a crashed worker left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bugtrail.config import Settings
from bugtrail.qa import liveness
from bugtrail.qa.capped import CappedOutput
from bugtrail.qa.docker_api import LABEL_ROLE, LABEL_RUN, LABEL_WORKER, ROLE_RUNNER, docker_client
from bugtrail.qa.errors import QaInfraError

# Fixed file names in each phase's log directory; grading reads only these.
OUTPUT_FILE = "test_output.txt"
JUNIT_FILE = "junit.xml"
RUN_FILE = "run.json"

CONTAINER_ROOT = "/workspace"  # the scratch dir: repo/ (the work tree) and out/ (junit)
CONTAINER_UID = 1000  # the runner image's `runner` user
MAX_FILE_BYTES = 1 << 30  # RLIMIT_FSIZE: one test cannot fill the host disk with one file
MAX_JUNIT_BYTES = 32 * 1024 * 1024
TMPFS_OPTIONS = "rw,exec,nosuid,nodev,size=512m"
LABEL_OWNER = "bugtrail.owner"  # liveness.ProcessTag of the worker process that started the container
LABEL_PID = "bugtrail.pid"


@dataclass
class RunResult:
    phase: str
    command: str
    image: str
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    duration_s: float
    output_bytes: int
    output_truncated: bool
    junit: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def container_user() -> tuple[int, int]:
    """The uid:gid tests run as: the image's `runner` when the worker is root, else the worker's own ids."""
    uid, gid = os.getuid(), os.getgid()
    return (CONTAINER_UID, CONTAINER_UID) if uid == 0 else (uid, gid)


def hardened_options(settings: Settings) -> dict[str, Any]:
    """The lock-down of every QA container: the test runs and the edit application alike."""
    import docker.types

    return {
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {"/tmp": TMPFS_OPTIONS},
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "pids_limit": settings.container_pids_limit,
        "mem_limit": settings.container_memory,
        "memswap_limit": settings.container_memory,
        "nano_cpus": int(settings.container_cpus * 1e9),
        "ulimits": [docker.types.Ulimit(name="fsize", soft=MAX_FILE_BYTES, hard=MAX_FILE_BYTES)],
        # Output is read through attach; the daemon must not keep its own (unbounded) copy on disk.
        "log_config": docker.types.LogConfig(type="none"),
        "stdin_open": False,
        "tty": False,
    }


def container_labels(phase: str, worker_id: str) -> dict[str, str]:
    """Labels that let remove_orphan_containers find a container a crashed worker left behind."""
    return {
        LABEL_ROLE: ROLE_RUNNER,
        LABEL_WORKER: worker_id,
        LABEL_OWNER: liveness.current().encode(),
        LABEL_PID: str(os.getpid()),
        LABEL_RUN: f"{phase}-{uuid.uuid4().hex[:12]}",
    }


def hand_over(scratch: Path) -> None:
    """Give the scratch dir to the container user (only needed, and only possible, when we are root)."""
    uid, gid = container_user()
    if os.getuid() != 0:
        return
    for root, dirs, files in os.walk(scratch):
        os.lchown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def run_phase(
    settings: Settings,
    client: Any,
    *,
    phase: str,
    scratch: Path,
    command: str,
    image: str,
    log_dir: Path,
    readonly_mounts: list[Path],
    worker_id: str = "",
) -> RunResult:
    """Run `command` in scratch/repo in a container; write OUTPUT_FILE, JUNIT_FILE, RUN_FILE to log_dir."""
    import docker.errors
    import docker.types

    log_dir.mkdir(parents=True, exist_ok=True)
    (scratch / "out").mkdir(exist_ok=True)
    # A rerun in the same scratch dir must not pick up the previous run's junit if it writes none.
    (scratch / "out" / JUNIT_FILE).unlink(missing_ok=True)
    hand_over(scratch)
    uid, gid = container_user()
    volumes = {str(scratch.resolve()): {"bind": CONTAINER_ROOT, "mode": "rw"}}
    for path in readonly_mounts:
        volumes[str(path.resolve())] = {"bind": str(path.resolve()), "mode": "ro"}
    try:
        container = client.containers.create(
            image,
            ["/bin/sh", "-c", command],
            working_dir=f"{CONTAINER_ROOT}/repo",
            user=f"{uid}:{gid}",
            environment={
                "HOME": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1",
                # xunit1 keeps the file attribute, which turns testcases back into pytest node ids.
                # Collection errors in one file must not stop the others from running (the before run
                # of a new test file that imports the fix is the common case).
                # pytest's own deprecations are about the suite and today's pytest, not the fix: a suite
                # with `filterwarnings = error` that predates one would fail to collect in both runs
                # (-W outranks the ini; warnings of the code under test still follow the repository).
                "PYTEST_ADDOPTS": f"--junitxml={CONTAINER_ROOT}/out/{JUNIT_FILE} -o junit_family=xunit1 "
                "-p no:cacheprovider --continue-on-collection-errors "
                "-W ignore::pytest.PytestDeprecationWarning",
                "CI": "1",
            },
            volumes=volumes,
            labels=container_labels(phase, worker_id),
            **hardened_options(settings),
        )
    except docker.errors.ImageNotFound as exc:
        raise QaInfraError(f"runner image {image!r} not found", "run `bugtrail runner build-image`") from exc
    except docker.errors.DockerException as exc:
        raise QaInfraError("could not create the test container", str(exc)) from exc

    output = CappedOutput(settings.test_output_cap_bytes)
    timed_out = False
    try:
        stream = container.attach(stdout=True, stderr=True, stream=True, logs=False)
        reader = threading.Thread(target=_drain, args=(stream, output), daemon=True)
        started = time.monotonic()
        container.start()
        reader.start()
        reader.join(settings.test_timeout_s)
        if reader.is_alive():
            timed_out = True
            with contextlib.suppress(docker.errors.DockerException):
                container.kill()
            reader.join(30)
        status = container.wait(timeout=60)
        duration = time.monotonic() - started
        container.reload()
        oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
        exit_code = int(status.get("StatusCode", -1))
    except docker.errors.DockerException as exc:
        raise QaInfraError("the test container failed", str(exc)) from exc
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)

    (log_dir / OUTPUT_FILE).write_bytes(output.getvalue())
    has_junit = _collect_junit(scratch, log_dir / JUNIT_FILE)
    result = RunResult(
        phase=phase,
        command=command,
        image=image,
        exit_code=exit_code,
        timed_out=timed_out,
        oom_killed=oom_killed,
        duration_s=round(duration, 3),
        output_bytes=output.total,
        output_truncated=output.truncated,
        junit=has_junit,
    )
    (log_dir / RUN_FILE).write_text(json.dumps(result.as_dict(), indent=2))
    return result


def _collect_junit(scratch: Path, target: Path) -> bool:
    """Copy the junit file out of the (untrusted) scratch dir: a regular file inside it, of sane size."""
    source = scratch / "out" / JUNIT_FILE
    try:
        inside = source.resolve().is_relative_to(scratch.resolve())
        if not inside or source.is_symlink() or not source.is_file():
            return False
        if source.stat().st_size > MAX_JUNIT_BYTES:
            return False  # graded by exit code instead; parsing it would cost too much memory
        shutil.copyfile(source, target, follow_symlinks=False)
    except OSError:
        return False
    return True


def _drain(stream: Any, output: CappedOutput) -> None:
    with contextlib.suppress(Exception):  # the stream ends with an error when the container is killed
        for chunk in stream:
            output.write(chunk)


def remove_orphan_containers(settings: Settings, client: Any | None = None) -> int:
    """Remove QA containers whose worker process is gone, and any older than a run can take."""
    import docker.errors

    own_client = client is None
    client = client or docker_client(settings)
    removed = 0
    try:
        containers = client.containers.list(all=True, filters={"label": f"{LABEL_ROLE}={ROLE_RUNNER}"})
        for container in containers:
            labels = container.labels or {}
            owner = liveness.ProcessTag.decode(labels.get(LABEL_OWNER, ""))
            too_old = _age_s(str(container.attrs.get("Created", ""))) > settings.test_timeout_s * 2 + 300
            if liveness.owner_is_dead(owner) or too_old:
                with contextlib.suppress(docker.errors.DockerException):
                    container.remove(force=True)
                    removed += 1
    finally:
        if own_client:
            client.close()
    return removed


def _age_s(created: str) -> float:
    """Seconds since Docker's `Created` timestamp (RFC 3339 with nanoseconds); 0 when unreadable."""
    from datetime import UTC, datetime

    try:
        created_at = datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00")
    except ValueError:
        return 0.0
    return (datetime.now(UTC) - created_at).total_seconds()
