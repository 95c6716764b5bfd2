"""A real `bugtrail serve` (uvicorn, SQLite) for hostile-input tests that need real sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import BugtrailServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugtrailServer]:
    root: Path = tmp_path_factory.mktemp("hostile")
    server = BugtrailServer(root / "data", log_path=root / "server.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def live_key(live_server: BugtrailServer) -> str:
    return live_server.create_key("mallory", "developer")
