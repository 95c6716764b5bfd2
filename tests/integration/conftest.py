"""Fixtures shared by the integration tests: a `bugtrail serve` process per module, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.receivers import Receiver
from tests.support.server import BugtrailServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugtrailServer]:
    """One real server for a module's recorder tests (each test uses its own developer key and repo)."""
    process = BugtrailServer(tmp_path_factory.mktemp("server") / "data").start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
