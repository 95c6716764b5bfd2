"""Fixtures for QA on real repositories: one real `bugtrail serve` (embedded worker, real Docker) per session.

Every test here is marked `docker` and `slow`: environments are built with real installs from the package
registries (cached as images across tests and sessions by the environment cache).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.real_cases import MIRROR_ROOT, file_url
from tests.support.real_traces import QaServer, start_qa_server
from tests.support.recorder import developer_key


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.docker)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def scratch_repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Allowlisted too: bare clones of mirrors under their own URL, for traces that get a repo config."""
    return tmp_path_factory.mktemp("scratch-repos")


@pytest.fixture(scope="session")
def qa_server(
    tmp_path_factory: pytest.TempPathFactory, runner_image: str, scratch_repos: Path
) -> Iterator[QaServer]:
    allowlist = [f"{file_url(MIRROR_ROOT)}/", f"{file_url(scratch_repos)}/"]
    server = start_qa_server(tmp_path_factory.mktemp("server") / "data", allowlist, runner_image, 300)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dev_key(qa_server: QaServer) -> str:
    return developer_key(qa_server, "dana")


@pytest.fixture(scope="session")
def admin_key(qa_server: QaServer) -> str:
    return qa_server.read_first_start_key()
