"""Fixtures for tests that need a Docker daemon and the runner image (marked `docker`).

These run on SQLite only (the queue's dialect differences are covered by the queue tests on both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from tests.support.buggy_repo import BuggyRepo, make_buggy_repo, qa_env
from tests.support.server import BugtrailServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"


@pytest.fixture
def repos_dir(tmp_path: Path) -> Path:
    path = tmp_path / "repos"
    path.mkdir()
    return path


@pytest.fixture
def settings(tmp_path: Path, database_url: str, repos_dir: Path, runner_image: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        embedded_worker=False,
        judge="heuristic",
        repo_allowlist=f"file://{repos_dir}/",
        runner_image=runner_image,
        test_timeout_s=60,
        job_retry_base_s=0.1,
        worker_poll_s=0.1,
        db_pool_size=5,
    )


@pytest.fixture
def buggy_repo(repos_dir: Path) -> BuggyRepo:
    return make_buggy_repo(repos_dir / "calc")


@pytest.fixture
def worker(settings: Settings, database: Database) -> Iterator[object]:
    from bugtrail.tasks import build_worker

    yield build_worker(settings, database)


@pytest.fixture
def server(tmp_path: Path, repos_dir: Path, runner_image: str) -> Iterator[BugtrailServer]:
    """`bugtrail serve` without its embedded worker (tests start standalone workers), admin key read."""
    proc = BugtrailServer(
        data_dir=tmp_path / "server-data",
        env=qa_env(repos_dir, BUGTRAIL_JOB_LEASE_S="3", BUGTRAIL_RUNNER_IMAGE=runner_image),
    )
    proc.start()
    proc.read_first_start_key()
    yield proc
    proc.stop()
