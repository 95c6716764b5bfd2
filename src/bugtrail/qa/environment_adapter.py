"""The QA pipeline's view of per-repository configuration and test environments.

Calls `bugtrail.repos.service.effective_config` and `bugtrail.qa.environments.prepare_environment` when
they exist; until they are merged it falls back to today's behaviour: the settings maps
(BUGTRAIL_TEST_COMMAND_MAP, BUGTRAIL_RUNNER_IMAGE_MAP) and the runner image as it is.
TODO(lead): drop the fallbacks once qa-env and recorder-env are on main.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from bugtrail.config import Settings, split_csv
from bugtrail.qa.environments.schemas import EnvironmentInfo
from bugtrail.repos.schemas import RepoConfig
from bugtrail.wire import TraceRead


class Prepared(Protocol):
    """The shape of bugtrail.qa.environments.PreparedEnvironment."""

    info: EnvironmentInfo
    image: str
    error: str | None


@dataclass
class FallbackEnvironment:
    info: EnvironmentInfo
    image: str
    error: str | None = None


def _optional(module: str, name: str) -> Any | None:
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def load_repo_config(session: Any, settings: Settings, repo_url: str) -> RepoConfig | None:
    """The registered configuration for repo_url (needs a session: called in the pipeline's read scope)."""
    effective_config = _optional("bugtrail.repos.service", "effective_config")
    if effective_config is not None:
        config: RepoConfig | None = effective_config(session, settings, repo_url)
        return config
    return config_from_settings(settings, repo_url)


def config_from_settings(settings: Settings, repo_url: str) -> RepoConfig | None:
    command = lookup_map(settings.test_command_map, repo_url)
    image = lookup_map(settings.runner_image_map, repo_url)
    if command is None and image is None:
        return None
    return RepoConfig(url_prefix=repo_url, test_command=command, image=image)


def test_command_for(settings: Settings, trace: TraceRead, config: RepoConfig | None) -> str:
    """The trace's own command, else the repository's configured one, else the settings default."""
    if trace.test_command and trace.test_command.strip():
        return trace.test_command
    if config is not None and config.test_command and config.test_command.strip():
        return config.test_command
    return lookup_map(settings.test_command_map, trace.repo_url) or settings.default_test_command


def default_image(settings: Settings, repo_url: str, config: RepoConfig | None) -> str:
    if config is not None and config.image:
        return config.image
    return lookup_map(settings.runner_image_map, repo_url) or settings.runner_image


def prepare_environment(
    settings: Settings,
    trace: TraceRead,
    config: RepoConfig | None,
    tree: Path,
    mirror: Path,
    log_dir: Path,
) -> Prepared:
    """The environment the tests run in (built or reused); its `error` is an environment failure."""
    prepare = _optional("bugtrail.qa.environments", "prepare_environment")
    if prepare is not None:
        prepared: Prepared = prepare(settings, trace, config, tree, mirror, log_dir)
        return prepared
    image = default_image(settings, trace.repo_url, config)
    source = "configured" if config is not None and config.image else "default"
    return FallbackEnvironment(info=EnvironmentInfo(source=source, image=image), image=image)


def lookup_map(raw: str, repo_url: str) -> str | None:
    """`prefix=value,prefix=value`: the longest matching prefix wins."""
    best: tuple[int, str] | None = None
    for entry in split_csv(raw):
        prefix, sep, value = entry.partition("=")
        if sep and repo_url.startswith(prefix.strip()) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), value.strip())
    return best[1] if best else None
