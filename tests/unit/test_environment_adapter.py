"""The pipeline's adapter to repository configuration: command precedence and the settings-map fallback."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from bugtrail.config import Settings
from bugtrail.qa import environment_adapter as adapter
from bugtrail.repos.schemas import RepoConfig
from bugtrail.wire import TraceRead

REPO = "https://github.com/example/project"


def trace(test_command: str | None = None) -> TraceRead:
    now = datetime.now(UTC)
    return TraceRead(
        trace_id=uuid.uuid4(),
        developer_id="alice",
        repo_url=REPO,
        bug_description="bug",
        test_command=test_command,
        status="queued",
        event_count=0,
        created_at=now,
        updated_at=now,
        events=[],
    )


def settings(**values: str) -> Settings:
    return Settings(data_dir=Path("/nonexistent"), **values)  # type: ignore[arg-type]


def test_test_command_comes_from_trace_then_repo_config_then_settings() -> None:
    plain = settings(default_test_command="pytest -q", test_command_map=f"{REPO}=pytest tests/unit")
    config = RepoConfig(url_prefix=REPO, test_command="tox -e py")
    assert (
        adapter.test_command_for(plain, trace("pytest tests/test_x.py"), config) == "pytest tests/test_x.py"
    )
    assert adapter.test_command_for(plain, trace("  "), config) == "tox -e py"
    mapped = adapter.config_from_settings(plain, REPO)  # the deprecated map stands in for a registration
    assert adapter.test_command_for(plain, trace(), mapped) == "pytest tests/unit"
    assert adapter.test_command_for(settings(), trace(), None) == Settings().default_test_command


def test_settings_maps_stand_in_for_a_registered_repository() -> None:
    mapped = settings(
        runner_image_map=f"https://github.com/example=img:org,{REPO}=img:project",
        test_command_map=f"{REPO}=make test",
    )
    config = adapter.config_from_settings(mapped, REPO)
    assert config is not None and config.image == "img:project" and config.test_command == "make test"
    assert adapter.config_from_settings(settings(), REPO) is None
    assert adapter.default_image(settings(runner_image="base:1"), None) == "base:1"
    assert adapter.default_image(settings(), RepoConfig(url_prefix=REPO, image="ready:2")) == "ready:2"
