"""`bugtrail curation backfill`: store curation metadata on finalized traces that have none."""

from __future__ import annotations

import typer

from bugtrail.cli.common import err_console, load_settings, open_database, subcommands

curation_app, register = subcommands(
    "curation",
    "Curation metadata of traces (time on task, counts, languages).",
)


@curation_app.command("backfill")
def backfill(
    recompute: bool = typer.Option(False, "--recompute", help="recompute every finalized trace's curation"),
    batch: int = typer.Option(50, "--batch", min=1, max=1000, help="traces per transaction"),
) -> None:
    """Compute and store the curation of finalized traces stored without one (or of all with --recompute).

    One transaction per batch, so an interrupted backfill keeps what it did and resumes where it stopped.
    """
    from bugtrail.traces import repository as repo

    settings = load_settings()
    done = 0
    after: str | None = None
    with open_database(settings) as database:
        while True:
            with database.scope() as session:
                traces = repo.traces_without_curation(session, after, batch, recompute)
                for trace in traces:
                    curation = repo.compute_trace_curation(
                        session, trace.trace_id, trace.test_command, settings.active_gap_s
                    )
                    repo.set_curation(session, trace, curation)
            if not traces:
                break
            done += len(traces)
            after = traces[-1].trace_id
            err_console.print(f"curation stored on {done} traces", end="\r")
    err_console.print(f"curation stored on {done} traces")
