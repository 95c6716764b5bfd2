"""Servers for tests and benchmarks: `bugtrail serve` as a real process, or an app served in this process.

`BugtrailServer` starts `python -m bugtrail serve` exactly as an operator would, so the tests and figures
cover uvicorn, the middleware, migrations at start and the first-start admin key; it is the one process
helper (benchmarks import it from here). `live_app_server` is different on purpose: it serves an app object
the test built (its own Settings and Database) in a thread, for tests that need real sockets but also reach
into the database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SRC_DIR = ROOT / "src"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_environment(**extra: str) -> dict[str, str]:
    """The environment for a `python -m bugtrail` subprocess: this checkout's code, no stray BUGTRAIL_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGTRAIL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


def http_json(
    method: str, url: str, body: Any = None, key: str | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """A tiny stdlib JSON request for setup steps (not for measured traffic)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("content-type", "application/json")
    if key:
        request.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw) if raw else None
        except ValueError:
            return exc.code, raw.decode(errors="replace")


class BugtrailServer:
    """`bugtrail serve` in a subprocess; start() returns once /healthz answers. Restartable after kill().

    stdout (where the first start prints the admin key) is collected in `output`; stderr goes to
    `log_path`, so a chatty server never blocks on a full pipe.
    """

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
        worker: bool = False,
        log_path: Path | None = None,
        workers: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.database_url = database_url
        self.port = port or free_port()
        self.extra_env = env or {}
        self.worker = worker
        self.workers = workers  # API processes (`serve --workers N`); None: the server's default
        self.log_path = log_path or (self.data_dir.parent / f"server-{self.port}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.admin_key: str | None = None
        self.output = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = cli_environment(BUGTRAIL_DATA_DIR=str(self.data_dir))
        if self.database_url:
            env["BUGTRAIL_DATABASE_URL"] = self.database_url
        if "BUGTRAIL_EMBEDDED_WORKER" in self.extra_env:
            # `serve --worker/--no-worker` would silently override it: say `worker=` instead.
            raise ValueError("pass worker=True/False to BugtrailServer, not BUGTRAIL_EMBEDDED_WORKER")
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> BugtrailServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "bugtrail",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--worker" if self.worker else "--no-worker",
            "--log-level",
            "warning",
        ]
        if self.workers is not None:
            command += ["--workers", str(self.workers)]
        self.output = ""
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the subprocess for its lifetime
        self.process = subprocess.Popen(
            command, env=self.environment(), stdout=subprocess.PIPE, stderr=log, cwd=str(ROOT)
        )
        log.close()
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        self._wait_ready(timeout)
        return self

    def _collect_output(self) -> None:
        """Read whatever stdout holds now (non-blocking); remember the first-start admin key."""
        if self.process is None or self.process.stdout is None or self.process.stdout.closed:
            return
        chunk = self.process.stdout.read()
        if not chunk:
            return
        self.output += chunk.decode(errors="replace")
        for line in self.output.splitlines():
            if line.startswith("btk_") and self.admin_key is None:
                self.admin_key = line.strip()

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._collect_output()
            if self.process.poll() is not None:
                raise RuntimeError(f"bugtrail serve exited with {self.process.returncode}: {self.log_tail()}")
            try:
                status, _ = http_json("GET", self.url + "/healthz", timeout=2)
                if status == 200:
                    self._collect_output()  # the key is printed before the socket listens
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"bugtrail serve did not become ready in {timeout}s: {self.log_tail()}")

    def read_first_start_key(self) -> str:
        """The admin key the first start printed; fails if this start printed none."""
        self._collect_output()
        assert self.admin_key, f"no first-start admin key on stdout: {self.output!r}"
        return self.admin_key

    def log_tail(self, chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def create_key(self, developer_id: str, role: str = "developer") -> str:
        status, body = http_json(
            "POST", self.url + "/api/keys", {"developer_id": developer_id, "role": role}, key=self.admin_key
        )
        if status != 201:
            raise RuntimeError(f"creating a key failed: {status} {body}")
        return str(body["key"])

    def create_trace(
        self, key: str, repo_url: str = "https://github.com/m/p", bug_description: str = "x"
    ) -> str:
        """A new pending trace owned by `key`'s developer; its trace_id."""
        status, body = http_json(
            "POST",
            self.url + "/api/traces",
            {"repo_url": repo_url, "bug_description": bug_description},
            key=key,
        )
        if status != 201:
            raise RuntimeError(f"creating a trace failed: {status} {body}")
        return str(body["trace_id"])

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush; what a power cut or OOM kill looks like to the process.
        Its API processes (`--workers N`) die with it; returns once they are gone too."""
        if self.process is not None and self.process.poll() is None:
            children = child_pids(self.process.pid)
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            deadline = time.monotonic() + 30
            while any(Path(f"/proc/{pid}").exists() and not _is_zombie(pid) for pid in children):
                assert time.monotonic() < deadline, f"API processes {children} outlived the killed server"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._collect_output()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> BugtrailServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found.extend(int(child) for child in task.read_text().split())
    return found


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@contextmanager
def live_app_server(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (a free port) in a thread of this process; yields its URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
