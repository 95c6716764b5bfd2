"""`bugtrail export`: write a filtered dataset to a file (JSONL or Parquet) with a progress bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    out: Path = typer.Option(..., "--out", "-o", help="file to write"),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl | parquet"),
    layout: str = typer.Option("trace", help="parquet: one row per trace (nested events) or per event"),
    status: list[str] | None = typer.Option(None, help="trace status (repeatable)"),
    tests_passed: bool | None = typer.Option(None, "--tests-passed/--tests-failed"),
    resolved: bool | None = typer.Option(None, "--resolved/--unresolved"),
    min_reasoning_score: float | None = typer.Option(None, "--min-reasoning-score"),
    max_reasoning_score: float | None = typer.Option(None, "--max-reasoning-score"),
    developer_id: str | None = typer.Option(None, "--developer"),
    repo_url: str | None = typer.Option(None, "--repo"),
    created_after: datetime | None = typer.Option(None, help="inclusive (UTC unless an offset is given)"),
    created_before: datetime | None = typer.Option(None, help="exclusive"),
) -> None:
    """Export traces (same shape as GET /api/traces/{id}); the export is recorded with its sha256."""
    from pydantic import ValidationError
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bugtrail.cli.common import fail, load_settings, open_database
    from bugtrail.export import service
    from bugtrail.export.filters import ExportFilters

    console = Console(stderr=True)
    if format not in ("jsonl", "parquet") or layout not in ("trace", "event"):
        raise fail("--format must be jsonl or parquet and --layout trace or event", code=2)
    try:
        filters = ExportFilters(
            status=status or None,
            tests_passed=tests_passed,
            resolved=resolved,
            min_reasoning_score=min_reasoning_score,
            max_reasoning_score=max_reasoning_score,
            developer_id=developer_id,
            repo_url=repo_url,
            created_after=created_after,
            created_before=created_before,
        )
    except ValidationError as exc:
        raise fail(f"invalid filters: {exc}", code=2) from exc
    with open_database(load_settings()) as database:
        total = service.count(database, filters)
        record_id = service.start_export(
            database, format, filters, "cli", layout if format == "parquet" else None
        )
        columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("export", total=total)

            def advance(n: int) -> None:
                progress.advance(task, n)

            if format == "jsonl":
                result = service.write_jsonl(database, filters, record_id, out, advance)
            else:
                result = service.write_parquet(database, filters, record_id, out, layout, advance)
    console.print(
        f"exported {result.trace_count} traces to {out} ({result.byte_count} bytes, "
        f"sha256 {result.sha256}, export #{result.record_id})"
    )
