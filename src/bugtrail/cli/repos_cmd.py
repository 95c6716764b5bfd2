"""`bugtrail repos add|list|show|remove`: per-repository QA configuration (on the server host: the DB)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bugtrail.cli.common import bugtrail_errors, err_console, fail, load_settings, open_database, subcommands

if TYPE_CHECKING:
    from bugtrail.repos.schemas import RepoConfig

repos_app, register = subcommands(
    "repos",
    "Per-repository QA configuration: install commands, Python version, test command, image.",
)


@repos_app.command("add")
def add(
    url_prefix: str = typer.Argument(..., help="repo_url prefix, e.g. https://github.com/org/project"),
    install: list[str] = typer.Option(
        None,
        "--install",
        "-i",
        help='a command installing what the tests need (repeat), e.g. "pip install -e .[test]"',
    ),
    python: str = typer.Option(None, "--python", help='minor Python version, e.g. "3.11"'),
    test_command: str = typer.Option(None, "--test-command", "-t", help="used when a trace has none"),
    test_pattern: list[str] = typer.Option(
        None, "--test-pattern", help="extra fnmatch pattern naming test files (repeat)"
    ),
    image: str = typer.Option(None, "--image", help="a ready image to run the tests in (nothing is built)"),
) -> None:
    """Register (or replace) the configuration of the repositories under URL_PREFIX."""
    from pydantic import ValidationError

    from bugtrail.repos import service
    from bugtrail.repos.schemas import RepoConfig

    try:
        config = RepoConfig(
            url_prefix=url_prefix,
            install_commands=install or [],
            python_version=python,
            test_command=test_command,
            test_file_patterns=test_pattern or [],
            image=image,
        )
    except ValidationError as exc:
        options = {"install_commands": "--install", "python_version": "--python", "url_prefix": "URL_PREFIX"}
        for error in exc.errors():
            where = [str(part) for part in error["loc"]]
            name = options.get(where[0], f"--{where[0].replace('_', '-')}") if where else "input"
            index = f" #{int(where[1]) + 1}" if len(where) > 1 and where[1].isdigit() else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            err_console.print(f"[bold red]error:[/] {escape(f'{name}{index}: {message}')}")
        raise fail("nothing was saved", "fix the values above and run `bugtrail repos add` again") from None
    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        saved = service.save(session, config, created_by="cli")
    verb = "registered" if saved.created else "replaced"
    err_console.print(f"{verb} repository configuration {saved.id} for {saved.url_prefix}")


@repos_app.command("list")
def list_() -> None:
    """List the registered configurations (and the deprecated settings maps, if set)."""
    from bugtrail.repos import service

    settings = load_settings()
    with open_database(settings) as database, database.scope(read_only=True) as session:
        configs = service.list_configs(session)
    table = Table("id", "url_prefix", "python", "install", "test command", "patterns", "image")
    for config in configs:
        cells = (
            str(config.id),
            config.url_prefix,
            config.python_version or "",
            "\n".join(config.install_commands),
            config.test_command or "",
            ", ".join(config.test_file_patterns),
            config.image or "",
        )
        table.add_row(*(escape(cell) for cell in cells))  # "pip install .[test]" is not Rich markup
    Console().print(table)
    if not configs:
        err_console.print("no repository configured yet → `bugtrail repos add URL_PREFIX --install ...`")
    if settings.runner_image_map or settings.test_command_map:
        err_console.print(
            "[yellow]note:[/] BUGTRAIL_RUNNER_IMAGE_MAP / BUGTRAIL_TEST_COMMAND_MAP are set (deprecated): "
            "they apply where no registered configuration sets the image or test command."
        )


@repos_app.command("show")
def show(
    ref: str = typer.Argument(..., help="id or url_prefix from `repos list`, or any repository URL"),
) -> None:
    """Show one configuration; for a repository URL, the configuration QA would apply to it."""
    from bugtrail.errors import NotFound
    from bugtrail.repos import service

    settings = load_settings()
    with open_database(settings) as database, database.scope(read_only=True) as session:
        try:
            _print(service.get(session, ref), f"configuration {ref}")
            return
        except NotFound:
            effective = service.effective_config(session, settings, ref)
    if effective is None:
        raise fail(
            f"no repository configuration {ref!r}, and none applies to it as a repository URL",
            "list them with `bugtrail repos list`; add one with `bugtrail repos add URL_PREFIX ...`",
        )
    _print(effective, f"applies to {ref} (via prefix {effective.url_prefix})")


def _print(config: RepoConfig, title: str) -> None:
    console = Console()
    console.print(escape(title), soft_wrap=True)
    table = Table(show_header=False)
    for name, value in config.model_dump().items():
        shown = "\n".join(value) if isinstance(value, list) else ("" if value is None else str(value))
        table.add_row(name, escape(shown))
    console.print(table)


@repos_app.command("remove")
def remove(ref: str = typer.Argument(..., help="id or url_prefix from `bugtrail repos list`")) -> None:
    """Remove a configuration; its repositories fall back to detection (and the deprecated maps)."""
    from bugtrail.errors import NotFound
    from bugtrail.repos import service

    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        try:
            removed = service.remove(session, ref)
        except NotFound as exc:
            raise fail(exc.message, "use an id or url_prefix from `bugtrail repos list`") from None
    err_console.print(f"removed repository configuration {removed.id} for {removed.url_prefix}")
