"""The `bugtrail` command: one Typer app; each domain registers its sub-commands in its own module.

Sub-command modules import server code (FastAPI, SQLAlchemy) inside the command functions, so the
recorder verbs that developers run all day start fast.
"""

from __future__ import annotations

import typer

from bugtrail.cli import (
    consent_cmd,
    curation_cmd,
    env_cmd,
    export_cmd,
    judge_cmd,
    keys_cmd,
    recorder_cmd,
    repos_cmd,
    runner_cmd,
    server_cmd,
    webhooks_cmd,
    worker_cmd,
)

app = typer.Typer(
    name="bugtrail",
    help="Collect, verify and export debugging traces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

server_cmd.register(app)
keys_cmd.register(app)
repos_cmd.register(app)
judge_cmd.register(app)
runner_cmd.register(app)
worker_cmd.register(app)
recorder_cmd.register(app)
export_cmd.register(app)
consent_cmd.register(app)
curation_cmd.register(app)
webhooks_cmd.register(app)
env_cmd.register(app)


def main() -> None:
    import sys

    recorder_cmd.fast_path(sys.argv[1:])  # exits for `run`/`note`, the verbs developers type all day
    app()
