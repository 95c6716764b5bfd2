"""QA test environments: choose a plan (recorded | configured | detected | default), build and cache it.

One entry point: `prepare_environment(settings, trace, repo_config, tree, mirror, log_dir)`. Loaded lazily:
bugtrail.wire imports the schemas module of this package, and prepare.py imports bugtrail.wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugtrail.qa.environments.prepare import PreparedEnvironment, prepare_environment

__all__ = ["PreparedEnvironment", "prepare_environment"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from bugtrail.qa.environments import prepare

        return getattr(prepare, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
