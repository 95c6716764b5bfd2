"""Shared fixtures: settings, a migrated database on SQLite and PostgreSQL, the app, and API keys.

Tests that need PostgreSQL, Docker or Chromium skip with a reason when those are absent; with
BUGTRAIL_NO_SKIPS=1 (set by CI) every such skip becomes a failure instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.migrate import upgrade
from bugtrail.db.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "BUGTRAIL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
NO_SKIPS = os.environ.get("BUGTRAIL_NO_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if NO_SKIPS and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"skipped, but BUGTRAIL_NO_SKIPS=1 requires it to run: {report.longrepr}"


def real_openai_key_present() -> bool:
    return os.environ.get("OPENAI_API_KEY", "").startswith("sk-") and not os.environ.get("OPENAI_BASE_URL")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked realapi call the real OpenAI API: without a real key they are deselected, not skipped."""
    if real_openai_key_present():
        return
    selected = [item for item in items if item.get_closest_marker("realapi") is None]
    if len(selected) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in selected])
        items[:] = selected


def _postgres_reachable() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not available here"
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """A fresh, uniquely named, migrated PostgreSQL database for this test session."""
    problem = _postgres_reachable()
    if problem:
        pytest.skip(problem)
    name = f"bugtrail_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrises a test over SQLite (a file in tmp_path) and PostgreSQL (emptied before each test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    _truncate_all(url)
    return url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        embedded_worker=False,
        judge="heuristic",
        repo_allowlist="file://,https://github.com/",
        db_pool_size=5,
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    if database.dialect == "sqlite":
        upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def app(settings: Settings, database: Database):  # type: ignore[no-untyped-def]
    from bugtrail.api.app import create_app

    return create_app(settings, database)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Keys:
    """Bearer headers for one key of each role, plus a second developer for isolation tests."""

    admin: dict[str, str]
    reviewer: dict[str, str]
    alice: dict[str, str]
    bob: dict[str, str]
    raw: dict[str, str]


@pytest.fixture
def keys(database: Database) -> Keys:
    from bugtrail.auth.keys import create_key

    raw: dict[str, str] = {}
    with database.scope() as session:
        for name, role in (
            ("admin", "admin"),
            ("reviewer", "reviewer"),
            ("alice", "developer"),
            ("bob", "developer"),
        ):
            _, raw[name] = create_key(session, name, role)
    headers = {name: {"Authorization": f"Bearer {key}"} for name, key in raw.items()}
    return Keys(raw=raw, **headers)


@pytest.fixture(scope="session")
def runner_image() -> str:
    """The runner image, built if missing (a cold build takes about a minute); skip without a daemon."""
    from bugtrail.qa.docker_api import docker_available
    from bugtrail.qa.image import build_runner_image

    problem = docker_available()
    if problem:
        pytest.skip(f"Docker is not available: {problem} (run scripts/setup-docker.sh)")
    settings = Settings()
    # Skips quickly when the image exists and was built from the current Dockerfile; rebuilds an outdated one.
    build_runner_image(settings)
    return settings.runner_image
