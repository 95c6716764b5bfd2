#!/opt/bugtrail/bin/python
"""Container health checks for compose: `bugtrail-healthcheck api|worker` exits 0 when healthy.

api:    GET /readyz on the port the server listens on (readiness: it checks the database; /healthz is
        liveness only).
worker: the database answers, the Docker daemon behind the mounted socket answers, and the runner image is
        there (without it every QA job would fail as an infrastructure error).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def check_api() -> str:
    host = os.environ.get("BUGTRAIL_HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    port = os.environ.get("BUGTRAIL_PORT", "8000")
    with urllib.request.urlopen(f"http://{host}:{port}/readyz", timeout=5) as response:
        body = json.load(response)
    if body.get("status") != "ready":
        raise RuntimeError(f"/readyz says {body}")
    return f"api ok ({body.get('database')})"


def check_worker() -> str:
    from sqlalchemy import text

    import docker
    from bugtrail.config import get_settings
    from bugtrail.db.engine import Database

    settings = get_settings()
    database = Database(settings)
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        database.dispose()
    client = docker.from_env(timeout=10)
    try:
        client.ping()
        client.images.get(settings.runner_image)
    finally:
        client.close()
    return f"worker ok (runner image {settings.runner_image})"


def main() -> int:
    checks = {"api": check_api, "worker": check_worker}
    if len(sys.argv) != 2 or sys.argv[1] not in checks:
        print(f"usage: bugtrail-healthcheck {'|'.join(checks)}", file=sys.stderr)
        return 2
    try:
        print(checks[sys.argv[1]]())
    except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
