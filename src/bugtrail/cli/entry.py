"""The `bugtrail` executable: the recorder's everyday verbs first, without importing the Typer app."""

from __future__ import annotations

import sys


def main() -> None:
    from bugtrail.cli.recorder_verbs import fast_path

    fast_path(sys.argv[1:])  # exits after `run`, `note` or `snapshot`
    from bugtrail.cli.app import main as app_main

    app_main()
