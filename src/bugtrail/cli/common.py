"""Shared CLI plumbing: settings, database, and errors printed with what to do next."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from pydantic import BaseModel

    from bugtrail.config import Settings
    from bugtrail.db.engine import Database

err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound="BaseModel")


def subcommands(name: str, help: str, **options: Any) -> tuple[typer.Typer, Callable[[typer.Typer], None]]:
    """A sub-command group (`bugtrail NAME ...`) and the `register(app)` that mounts it on the main app."""
    group = typer.Typer(help=help, no_args_is_help=True, **options)

    def register(app: typer.Typer) -> None:
        app.add_typer(group, name=name)

    return group, register


def fail(message: str, hint: str | None = None, code: int = 1) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    if hint:
        err_console.print(f"[dim]→ {hint}[/]")
    return typer.Exit(code)


def options_as(model: type[M], options: dict[str, Any], what: str = "option") -> M:
    """The command's options named as `model`'s fields, validated by it; or exit 2 naming each problem."""
    from pydantic import ValidationError

    from bugtrail.errors import validation_problems

    fields = {name: value for name, value in options.items() if name in model.model_fields}
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise fail(f"invalid {what}: {validation_problems(exc, 'options')}", code=2) from exc


def load_settings() -> Settings:
    """The settings, or exit 2 naming each invalid variable and what it expects (no traceback)."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from bugtrail.config import get_settings, setting_problems

    try:
        return get_settings()
    except ValidationError as exc:
        for problem in setting_problems(exc):
            err_console.print(
                f"[bold red]error:[/] invalid setting {problem}", highlight=False, soft_wrap=True
            )
        raise fail(
            "the configuration is invalid",
            "fix the variables above (docs: README, Environment Variables)",
            code=2,
        ) from exc
    except SettingsError as exc:
        raise fail(f"the configuration is invalid: {exc}", code=2) from exc


@contextmanager
def open_database(settings: Settings, migrate: bool = True) -> Iterator[Database]:
    """A Database for one CLI command, migrated to head first so commands work on a fresh data dir."""
    from sqlalchemy.exc import OperationalError

    from bugtrail.db.engine import Database
    from bugtrail.db.migrate import upgrade

    database = Database(settings)
    try:
        if migrate:
            upgrade(database.engine)
        yield database
    except OperationalError as exc:
        raise fail(
            f"cannot use the database at {database.engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}",
            "check BUGTRAIL_DATABASE_URL / BUGTRAIL_DATA_DIR and that the database server is running",
        ) from exc
    finally:
        database.dispose()


@contextmanager
def bugtrail_errors() -> Iterator[None]:
    """Print a BugtrailError as one line plus its detail instead of a traceback."""
    from bugtrail.errors import BugtrailError

    try:
        yield
    except BugtrailError as exc:
        raise fail(exc.message, str(exc.detail) if exc.detail else None) from exc
