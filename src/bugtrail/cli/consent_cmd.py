"""`bugtrail consent set|show|list|remove`: developers' licence and consent (on the server host: the DB)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bugtrail.cli.common import bugtrail_errors, err_console, fail, load_settings, open_database, subcommands

if TYPE_CHECKING:
    from bugtrail.consent.schemas import ConsentRead

consent_app, register = subcommands(
    "consent",
    "Developers' licence and consent: which traces exports may take outside the organisation.",
)

_OPTIONS = {"licence": "--licence", "external_use": "--external/--internal", "consent_given_at": "--given-at"}


@consent_app.command("set")
def set_(
    developer: str = typer.Argument(..., help="the developer id their API keys carry"),
    licence: str = typer.Option(..., "--licence", "-l", help='an SPDX id such as CC-BY-4.0, or "internal"'),
    external: bool = typer.Option(
        False,
        "--external/--internal",
        help="whether their traces may be exported outside the organisation (default --internal)",
    ),
    given_at: datetime | None = typer.Option(
        None, "--given-at", help="when they consented (UTC unless an offset is given); default: now"
    ),
    pending: bool = typer.Option(False, "--pending", help="record the licence, consent not given yet"),
) -> None:
    """Record (or replace) DEVELOPER's licence and consent."""
    from pydantic import ValidationError

    from bugtrail.consent import service
    from bugtrail.consent.schemas import ConsentSet

    if pending and given_at is not None:
        raise fail("--pending and --given-at contradict each other; pass one", code=2)
    fields: dict[str, object] = {"licence": licence, "external_use": external}
    if pending:
        fields["consent_given_at"] = None
    elif given_at is not None:
        fields["consent_given_at"] = given_at if given_at.tzinfo else given_at.replace(tzinfo=UTC)
    try:
        body = ConsentSet.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            where = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            option = _OPTIONS.get(where, where or "input")
            err_console.print(f"[bold red]error:[/] {escape(f'{option}: {message}')}")
        raise fail("nothing was saved", "fix the values above and run `bugtrail consent set` again") from None
    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        saved, created = service.save(session, developer, body, updated_by="cli")
    verb = "recorded" if created else "replaced"
    err_console.print(f"{verb} consent of {escape(saved.developer_id)}")
    _print(saved)


@consent_app.command("show")
def show(developer: str = typer.Argument(..., help="the developer id")) -> None:
    """Show DEVELOPER's licence and consent."""
    from bugtrail.auth.keys import Principal
    from bugtrail.consent import service
    from bugtrail.errors import NotFound

    cli = Principal(key_id=0, developer_id="cli", role="admin")  # the server host's operator
    with bugtrail_errors(), open_database(load_settings()) as database, database.scope(read_only=True) as s:
        try:
            consent = service.get(s, cli, developer)
        except NotFound as exc:
            raise fail(exc.message, "record it with `bugtrail consent set DEVELOPER --licence ...`") from None
    _print(consent)


@consent_app.command("list")
def list_(
    external_only: bool = typer.Option(False, "--external-only", help="only those external exports include"),
) -> None:
    """List every developer's licence and consent."""
    from bugtrail.consent import service

    with open_database(load_settings()) as database, database.scope(read_only=True) as session:
        consents = service.list_consents(session, external_only)
    table = Table(
        "developer", "licence", "consent given at", "external use", "in external exports", "updated by"
    )
    for consent in consents:
        cells = (
            consent.developer_id,
            consent.licence,
            consent.consent_given_at.isoformat() if consent.consent_given_at else "pending",
            "yes" if consent.external_use else "no",
            "yes" if consent.external_export else "no",
            consent.updated_by or "",
        )
        table.add_row(*(escape(cell) for cell in cells))
    Console().print(table)
    if not consents:
        err_console.print(
            "no consent recorded yet → `bugtrail consent set DEVELOPER --licence CC-BY-4.0 --external`"
        )


@consent_app.command("remove")
def remove(developer: str = typer.Argument(..., help="the developer id")) -> None:
    """Withdraw DEVELOPER's consent: later external exports leave their traces out."""
    from bugtrail.consent import service
    from bugtrail.errors import NotFound

    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        try:
            removed = service.remove(session, developer)
        except NotFound as exc:
            raise fail(exc.message, "list them with `bugtrail consent list`") from None
    err_console.print(f"withdrew the consent of {escape(removed.developer_id)}")


def _print(consent: ConsentRead) -> None:
    table = Table(show_header=False)
    for name, value in consent.model_dump(mode="json").items():
        table.add_row(name, escape("" if value is None else str(value)))
    Console().print(table)
