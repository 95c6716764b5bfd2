"""`bugtrail webhooks add/list/remove/deliveries`: manage webhook registrations from the server host."""

from __future__ import annotations

import typer

from bugtrail.cli.common import bugtrail_errors, load_settings, open_database, subcommands

webhooks_app, register = subcommands("webhooks", "Webhooks for trace.finalized, qa.completed, qa.failed.")


@webhooks_app.command("add")
def add(
    url: str = typer.Argument(..., help="https://receiver.example/hook"),
    event: list[str] = typer.Option(
        ["trace.finalized", "qa.completed", "qa.failed"], "--event", "-e", help="repeatable"
    ),
    secret: str | None = typer.Option(None, help="signing secret (generated when absent)"),
) -> None:
    """Register a URL; prints the signing secret once."""
    from bugtrail.webhooks import service

    settings = load_settings()
    with open_database(settings) as database, bugtrail_errors(), database.scope() as session:
        row = service.register_webhook(session, settings, url, list(event), "cli", secret)
        typer.echo(f"webhook {row.id}: {row.url} events={','.join(row.events)}")
        typer.echo(f"secret: {row.secret}  (store it; it is not shown again)")


@webhooks_app.command("list")
def list_() -> None:
    """List webhooks."""
    from bugtrail.webhooks import repository

    with open_database(load_settings()) as database, database.scope(read_only=True) as session:
        for row in repository.list_webhooks(session):
            state = "active" if row.active else "inactive"
            typer.echo(f"{row.id}\t{state}\t{','.join(row.events)}\t{row.url}")


@webhooks_app.command("remove")
def remove(webhook_id: int) -> None:
    """Delete a webhook and its delivery history."""
    from bugtrail.webhooks import service

    with open_database(load_settings()) as database, bugtrail_errors(), database.scope() as session:
        service.remove_webhook(session, webhook_id)
    typer.echo(f"removed webhook {webhook_id}")


@webhooks_app.command("deliveries")
def deliveries(webhook_id: int, limit: int = typer.Option(20, help="newest first")) -> None:
    """Show recent deliveries with their state, attempts and last status."""
    from bugtrail.webhooks import repository, service

    settings = load_settings()
    with open_database(settings) as database, bugtrail_errors(), database.scope(read_only=True) as session:
        service.require_webhook(session, webhook_id)
        for row in repository.list_deliveries(session, webhook_id, limit):
            status = row.last_status_code if row.last_status_code is not None else "-"
            typer.echo(
                f"{row.id}\t{row.event}\t{row.state}\tattempts={row.attempts}\tstatus={status}\t"
                f"{row.last_error or ''}"
            )
