"""A real `bugtrail serve` (uvicorn, SQLite) for hostile-input tests that need real sockets."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.serverproc import BugtrailServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugtrailServer]:
    root: Path = tmp_path_factory.mktemp("hostile")
    server = BugtrailServer(root / "data", log_path=root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_key(live_server: BugtrailServer) -> str:
    return live_server.create_key("mallory", "developer")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_exchange(port: int, data: bytes, timeout: float = 30.0) -> bytes:
    """Send raw bytes, return what the server answers (until it closes or a full small response came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may refuse before reading everything; its answer is what matters.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def status_of(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:200]
    return int(response.split(b" ", 2)[1])


def new_trace(server: BugtrailServer, key: str) -> str:
    return server.create_trace(key)
