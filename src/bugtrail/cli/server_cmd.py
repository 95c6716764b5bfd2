"""`bugtrail serve` and `bugtrail db ...`: run the service, manage the schema."""

from __future__ import annotations

import typer

from bugtrail.cli.common import err_console, load_settings, open_database

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


# The app of each API process of `serve --workers N` (built from the environment in that process).
_WORKER_APP = "bugtrail.api.worker_process:create_worker_app"


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(db_app, name="db")


def serve(
    host: str = typer.Option(None, help="bind address (default BUGTRAIL_HOST or 127.0.0.1)"),
    port: int = typer.Option(None, help="port (default BUGTRAIL_PORT or 8000)"),
    worker: bool = typer.Option(None, "--worker/--no-worker", help="run the embedded QA worker"),
    workers: int = typer.Option(
        None, "--workers", min=1, max=64, help="API processes (default BUGTRAIL_SERVE_WORKERS or 1)"
    ),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Run the API (and, by default, an embedded QA worker). Migrates the database first."""
    import uvicorn

    from bugtrail.api import reuseport
    from bugtrail.api.app import create_app
    from bugtrail.api.http_protocol import BoundedHttpToolsProtocol
    from bugtrail.auth import keys
    from bugtrail.cli import background

    settings = load_settings()
    overrides = {
        k: v
        for k, v in {"host": host, "port": port, "embedded_worker": worker, "serve_workers": workers}.items()
        if v is not None
    }
    settings = settings.model_copy(update=overrides)
    # Once, in this process, whatever the number of API processes: migrations, the first-start admin key
    # and the embedded worker (QA runs once, not once per API process).
    with open_database(settings) as database:
        with database.scope() as session:
            if not keys.has_any_key(session):
                _, key = keys.create_key(session, "admin", "admin", label="first-start admin key")
                err_console.print("[bold]First start: created an admin API key. It is shown only once:[/]")
                print(key, flush=True)
        server_options = {
            "host": settings.host,
            "port": settings.port,
            "log_level": log_level,
            "timeout_graceful_shutdown": 30,
            # httptools with a bound on the request head (api/http_protocol.py): h11's safety at a third
            # of its CPU per request.
            "http": BoundedHttpToolsProtocol,
        }
        with background.start_services(settings, database):
            if settings.serve_workers == 1:
                uvicorn.run(create_app(settings, database), **server_options)  # type: ignore[arg-type]
            elif reuseport.supported(settings.port):
                # A socket per API process: the kernel spreads connections evenly (api/reuseport.py).
                try:
                    reuseport.run(_WORKER_APP, settings.serve_workers, server_options)
                except OSError as exc:
                    err_console.print(f"[red]cannot listen on {settings.host}:{settings.port}: {exc}[/]")
                    raise typer.Exit(1) from exc
            else:
                # Each API process builds its app from the environment (api/worker_process.py).
                uvicorn.run(
                    _WORKER_APP,
                    factory=True,
                    workers=settings.serve_workers,
                    **server_options,  # type: ignore[arg-type]
                )


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from bugtrail.db.migrate import current_revision, upgrade

    settings = load_settings()
    with open_database(settings, migrate=False) as database:
        upgrade(database.engine, revision)
        err_console.print(f"database at revision {current_revision(database.engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from bugtrail.db.migrate import current_revision

    with open_database(load_settings(), migrate=False) as database:
        print(current_revision(database.engine) or "(empty)")
