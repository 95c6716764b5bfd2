"""`bugtrail keys create|list|revoke`: API keys (stored hashed; the key is printed once)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from bugtrail.cli.common import bugtrail_errors, err_console, load_settings, open_database, subcommands

keys_app, register = subcommands("keys", "API keys: create, list, revoke.")


@keys_app.command("create")
def create(
    developer: str = typer.Option(..., "--developer", help="developer id the key acts as"),
    role: str = typer.Option("developer", "--role", help="developer | reviewer | admin"),
    label: str = typer.Option(None, help="a note to recognise the key by"),
) -> None:
    """Create a key and print it, alone, on stdout (it cannot be shown again)."""
    from bugtrail.auth import keys

    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        row, key = keys.create_key(session, developer, role, label)
    err_console.print(f"created key {row.id} ({row.key_prefix}…) for {developer} as {role}")
    print(key)


@keys_app.command("list")
def list_(include_revoked: bool = typer.Option(False, "--all", help="include revoked keys")) -> None:
    """List keys (prefix, developer, role, state); never the keys themselves."""
    from bugtrail.auth import keys

    with open_database(load_settings()) as database, database.scope(read_only=True) as session:
        rows = keys.list_keys(session, include_revoked)
        table = Table("id", "prefix", "developer", "role", "label", "created", "revoked")
        for row in rows:
            table.add_row(
                str(row.id),
                row.key_prefix,
                row.developer_id,
                row.role,
                row.label or "",
                f"{row.created_at:%Y-%m-%d %H:%M}",
                f"{row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "",
            )
    Console().print(table)


@keys_app.command("revoke")
def revoke(key: str = typer.Argument(..., help="numeric id or key prefix (from `keys list`)")) -> None:
    """Revoke a key; requests with it are refused from now on."""
    from bugtrail.auth import keys

    with bugtrail_errors(), open_database(load_settings()) as database, database.scope() as session:
        row = keys.revoke(session, key)
        err_console.print(f"revoked key {row.id} ({row.key_prefix}…) of {row.developer_id}")
