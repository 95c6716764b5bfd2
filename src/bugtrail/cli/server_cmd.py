"""Placeholder; filled in by the service core."""

import typer


def register(app: typer.Typer) -> None:
    pass
