"""QA test environments: choose a plan (recorded | configured | detected | default), build and cache it.

One entry point: `prepare_environment(settings, trace, repo_config, tree, mirror, log_dir)`.
"""

from bugtrail.qa.environments.prepare import PreparedEnvironment, prepare_environment

__all__ = ["PreparedEnvironment", "prepare_environment"]
