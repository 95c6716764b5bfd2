"""The `bugtrail` executable: the recorder's everyday verbs first, without importing the Typer app.

A plain `pip install bugtrail` is the recorder only; the service, QA, export and judge verbs import their
dependencies inside the command, so without the `server` extra they end here with what to install.
"""

from __future__ import annotations

import sys

# Top-level modules that only `bugtrail[server]` installs (see pyproject.toml).
SERVER_MODULES = frozenset(
    {
        "alembic",
        "detect_secrets",
        "docker",
        "fastapi",
        "httpx",
        "jinja2",
        "krippendorff",
        "multipart",
        "openai",
        "orjson",
        "psycopg",
        "pyarrow",
        "pydantic_settings",
        "scipy",
        "sqlalchemy",
        "starlette",
        "statsmodels",
        "uvicorn",
    }
)


def main() -> None:
    from bugtrail.cli.recorder_verbs import fast_path

    fast_path(sys.argv[1:])  # exits after `run`, `note`, `snapshot` or `shell`
    from bugtrail.cli.app import main as app_main

    try:
        app_main()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in SERVER_MODULES:
            raise
        verb = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "this command")
        sys.stderr.write(
            f"error: `bugtrail {verb}` needs the server components ({missing} is not installed).\n"
            "→ install them with: pip install 'bugtrail[server]'\n"
        )
        raise SystemExit(2) from None
