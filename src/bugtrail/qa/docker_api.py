"""The one place that opens a Docker SDK client; everything else receives it."""

from __future__ import annotations

from typing import Any

from bugtrail.config import Settings
from bugtrail.errors import Unavailable

# Labels put on every QA container, so orphans can be found and removed after a crash.
LABEL_ROLE = "bugtrail.role"
ROLE_RUNNER = "qa-runner"
LABEL_WORKER = "bugtrail.worker"
LABEL_RUN = "bugtrail.run"


def docker_client(settings: Settings | None = None, timeout: float = 120.0) -> Any:
    """A connected client (DOCKER_HOST etc. from the environment) or Unavailable if no daemon answers."""
    import docker.errors
    from docker.client import from_env

    try:
        client = from_env(timeout=int(timeout))
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise Unavailable("no Docker daemon is reachable", detail=str(exc)) from exc
    return client


def docker_available(settings: Settings | None = None) -> str | None:
    """None when a daemon answers, else the reason (for skips and health checks)."""
    try:
        docker_client(settings, timeout=10).close()
    except Unavailable as exc:
        return f"{exc.message}: {exc.detail}"
    return None
