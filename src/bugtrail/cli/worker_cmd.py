"""`bugtrail worker`: a standalone worker for every task kind (scale out: many against one PostgreSQL)."""

from __future__ import annotations

import typer

from bugtrail.cli.common import err_console, load_settings, open_database


def register(app: typer.Typer) -> None:
    app.command()(worker)


def worker(
    max_jobs: int = typer.Option(None, help="exit after processing this many jobs (of any kind)"),
    once: bool = typer.Option(
        False, "--once", help="process the jobs due now, then exit when the queue is empty"
    ),
    log_level: str = typer.Option("info", help="logging level"),
) -> None:
    """Run queued jobs (QA runs, webhook deliveries). SIGTERM/Ctrl-C finishes the current jobs, then exits."""
    import logging
    import signal

    from bugtrail.tasks import build_worker

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_settings()
    with open_database(settings) as database:
        runner = build_worker(settings, database)

        def drain(signum: int, _frame: object) -> None:
            err_console.print(f"[yellow]signal {signum}: finishing the current jobs, then exiting[/]")
            runner.stop()

        signal.signal(signal.SIGTERM, drain)
        signal.signal(signal.SIGINT, drain)
        err_console.print(f"worker {runner.worker_id} started ({', '.join(runner.kinds)})")
        if once:
            runner.startup_cleanup()
            while not runner.stopping.is_set() and runner.run_once():
                if max_jobs is not None and runner.jobs_done >= max_jobs:
                    break
        else:
            runner.run(max_jobs=max_jobs)
        err_console.print(f"worker {runner.worker_id} stopped after {runner.jobs_done} job(s)")
