"""Start a real `bugtrail serve` subprocess on a free 127.0.0.1 port, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.serverproc import free_port

SRC_DIR = Path(__file__).resolve().parents[2] / "src"


def cli_environment(**extra: str) -> dict[str, str]:
    """The environment for a `python -m bugtrail` subprocess: this checkout's code, no stray BUGTRAIL_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUGTRAIL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")]))
    env.update(extra)
    return env


@dataclass
class ServerProcess:
    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    admin_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = cli_environment(BUGTRAIL_DATA_DIR=str(self.data_dir), BUGTRAIL_EMBEDDED_WORKER="false")
        env.update(self.env)
        return env

    def start(self, timeout: float = 30.0) -> ServerProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bugtrail",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.environment(),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited early: {self.process.stderr.read() if self.process.stderr else ''}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TimeoutError(f"server did not become healthy on {self.url}")

    def read_first_start_key(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        self.admin_key = self.process.stdout.readline().strip()
        return self.admin_key

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
