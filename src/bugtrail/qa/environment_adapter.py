"""The QA pipeline's view of per-repository configuration: which config, test command and image apply.

The configuration comes from `bugtrail.repos.service` (a registered repository over the deprecated
settings maps); the environment itself from `bugtrail.qa.environments.prepare_environment`.
"""

from __future__ import annotations

from typing import Any

from bugtrail.config import Settings
from bugtrail.qa.environments import PreparedEnvironment, prepare_environment
from bugtrail.repos.schemas import RepoConfig
from bugtrail.repos.service import effective_config, legacy_config
from bugtrail.wire import TraceRead

__all__ = [
    "PreparedEnvironment",
    "config_from_settings",
    "default_image",
    "load_repo_config",
    "prepare_environment",
    "test_command_for",
]


def load_repo_config(session: Any, settings: Settings, repo_url: str) -> RepoConfig | None:
    """The configuration for repo_url (needs a session: called in the pipeline's read scope)."""
    return effective_config(session, settings, repo_url)


def config_from_settings(settings: Settings, repo_url: str) -> RepoConfig | None:
    """Without a database (benchmarks, direct replays): the settings maps stand in for a registration."""
    return legacy_config(settings, repo_url)


def test_command_for(settings: Settings, trace: TraceRead, config: RepoConfig | None) -> str:
    """The trace's own command, else the repository's configured one, else the settings default."""
    if trace.test_command and trace.test_command.strip():
        return trace.test_command
    if config is not None and config.test_command and config.test_command.strip():
        return config.test_command
    return settings.default_test_command


def default_image(settings: Settings, config: RepoConfig | None) -> str:
    """The image named before any environment is prepared (a configured ready image, else the runner)."""
    if config is not None and config.image:
        return config.image
    return settings.runner_image
