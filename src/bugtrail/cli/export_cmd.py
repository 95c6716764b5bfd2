"""`bugtrail export`: write a filtered dataset: JSONL, sft, adp, Parquet or an hf directory."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from bugtrail.export.filters import ExportFilters


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    ctx: typer.Context,
    out: Path = typer.Option(..., "--out", "-o", help="file (new directory: hf, --partition month)"),
    format: str = typer.Option("jsonl", "--format", "-f", help="jsonl | sft | adp | parquet | hf"),
    layout: str = typer.Option("trace", help="parquet: one row per trace (nested events) or per event"),
    partition: str = typer.Option(
        "none", help="parquet: none (one file) or month (a directory of shards per created month)"
    ),
    use: str = typer.Option(
        "external",
        "--use",
        help="external: only traces whose developer consented to external use; "
        "internal: every trace, kept inside the organisation (with --server: an admin key)",
    ),
    licence: list[str] | None = typer.Option(
        None, "--licence", help='licence rows carry: an SPDX id or "internal" (repeatable)'
    ),
    status: list[str] | None = typer.Option(None, help="trace status (repeatable)"),
    tests_passed: bool | None = typer.Option(None, "--tests-passed/--tests-failed"),
    resolved: bool | None = typer.Option(None, "--resolved/--unresolved"),
    outcome: list[str] | None = typer.Option(None, help="newest QA result's outcome (repeatable)"),
    error_kind: list[str] | None = typer.Option(None, help="environment | infrastructure | input"),
    patch_exact: bool | None = typer.Option(None, "--patch-exact/--patch-fuzzy"),
    upstream_match: bool | None = typer.Option(
        None, "--upstream-match/--no-upstream-match", help="final patch near-identical to a later commit"
    ),
    duplicate: bool | None = typer.Option(
        None, "--duplicates-only/--exclude-duplicates", help="traces QA linked to an earlier duplicate"
    ),
    min_reasoning_score: float | None = typer.Option(None, "--min-reasoning-score"),
    max_reasoning_score: float | None = typer.Option(None, "--max-reasoning-score"),
    review_decision: list[str] | None = typer.Option(
        None, "--review-decision", help="accept | reject | needs_changes (repeatable)"
    ),
    min_human_score: float | None = typer.Option(None, "--min-human-score"),
    developer_id: str | None = typer.Option(None, "--developer"),
    repo_url: str | None = typer.Option(None, "--repo"),
    created_after: datetime | None = typer.Option(None, help="inclusive (UTC unless an offset is given)"),
    created_before: datetime | None = typer.Option(None, help="exclusive"),
    server: str | None = typer.Option(
        None, envvar="BUGTRAIL_SERVER", help="download from this server's API instead of the local database"
    ),
    api_key: str | None = typer.Option(
        None, envvar="BUGTRAIL_API_KEY", help="reviewer/admin key for --server"
    ),
) -> None:
    """Export traces; the export is recorded with its sha256.

    jsonl rows are GET /api/traces/{id} documents; sft rows are chat messages with tool calls; adp rows
    are Agent Data Protocol trajectories; hf writes a Hugging Face datasets directory of sft rows with a
    dataset card (docs/export.md). Without --server it reads the database configured by BUGTRAIL_*
    settings (run on the server host); with --server it streams GET /api/export and checks the download
    against the recorded sha256 (hf: the sft rows are downloaded, then the directory is built here).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from bugtrail.cli.common import fail, load_settings, open_database, options_as
    from bugtrail.export import flows
    from bugtrail.export.filters import ExportFilters
    from bugtrail.export.formats import flows as format_flows

    console = Console(stderr=True)
    if format not in ("jsonl", "sft", "adp", "parquet", "hf") or layout not in ("trace", "event"):
        raise fail("--format must be jsonl, sft, adp, parquet or hf and --layout trace or event", code=2)
    if partition not in ("none", "month") or (partition == "month" and format != "parquet"):
        raise fail("--partition is none or month, and month is for --format parquet (hf is always)", code=2)
    if (format == "hf" or partition == "month") and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise fail(f"{out} must be a new or empty directory for this export", code=2)
    if use not in ("external", "internal"):
        raise fail("--use must be external or internal", code=2)
    # The filter options are named as ExportFilters' fields; an unused repeatable option is no filter.
    options = {k: v or None if isinstance(v, list | tuple) else v for k, v in ctx.params.items()}
    filters = options_as(ExportFilters, options, "filters")
    if server:
        if not api_key:
            raise fail("--server needs an API key", "pass --api-key or set BUGTRAIL_API_KEY", code=2)
        if format == "hf":
            download_hf(server, api_key, filters, out, console)
        elif partition == "month":
            raise fail("--partition month reads the database: run it on the server host", code=2)
        else:
            download(server, api_key, format, layout, filters, out, console)
        return
    with open_database(load_settings()) as database:
        total = flows.count(database, filters)
        record_id = flows.start_export(
            database,
            format if partition == "none" else "parquet-month",
            filters,
            "cli",
            layout if format == "parquet" else None,
        )
        columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("export", total=total)

            def advance(n: int) -> None:
                progress.advance(task, n)

            if format == "jsonl":
                result = flows.write_jsonl(database, filters, record_id, out, advance)
            elif format in ("sft", "adp"):
                result = format_flows.write_rows(database, filters, record_id, format, out, advance)
            elif format == "hf":
                result = format_flows.write_hf(database, filters, record_id, out, advance)
            elif partition == "month":
                result = flows.write_parquet_shards(database, filters, record_id, out, layout, advance)
            else:
                result = flows.write_parquet(database, filters, record_id, out, layout, advance)
    console.print(
        f"exported {result.trace_count} traces to {out} ({result.byte_count} bytes, "
        f"sha256 {result.sha256}, export #{result.record_id}, use={use})"
    )


def download_hf(server: str, api_key: str, filters: ExportFilters, out: Path, console: Console) -> None:
    """Download the sft rows (checked against the server's sha256), then build the hf directory here."""
    import tempfile

    from bugtrail.export.formats.hf import write_hf_from_sft_file

    with tempfile.TemporaryDirectory(prefix="bugtrail-hf-") as scratch:
        rows = Path(scratch) / "sft.jsonl"
        export_id = download(server, api_key, "sft", "trace", filters, rows, console)
        count, sha256 = write_hf_from_sft_file(rows, out, filters.as_record(), export_id)
    console.print(f"built the hf dataset {out} from {count} sft rows (_SHA256SUMS sha256 {sha256})")


def download(
    server: str, api_key: str, fmt: str, layout: str, filters: ExportFilters, out: Path, console: Console
) -> int | None:
    """Stream GET /api/export to `out`, then compare its sha256 with the server's export record."""
    import hashlib

    import httpx
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from bugtrail.cli.common import fail

    params: list[tuple[str, str | int | float | bool | None]] = [("format", fmt), ("layout", layout)]
    for key, value in filters.as_record().items():
        for item in value if isinstance(value, list) else [value]:
            params.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    headers = {"Authorization": f"Bearer {api_key}"}
    base = server.rstrip("/")
    digest = hashlib.sha256()
    try:
        with httpx.Client(timeout=httpx.Timeout(30.0, read=600.0)) as client:
            with client.stream("GET", f"{base}/api/export", params=params, headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    raise fail(f"server answered {response.status_code}: {response.text[:300]}")
                export_id = response.headers.get("x-bugtrail-export-id")
                total = (
                    int(response.headers["content-length"]) if "content-length" in response.headers else None
                )
                with Progress(
                    *Progress.get_default_columns()[:2],
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    console=console,
                    transient=True,
                ) as progress:
                    task = progress.add_task("download", total=total)
                    with out.open("wb") as handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                            digest.update(chunk)
                            progress.advance(task, len(chunk))
            record = client.get(f"{base}/api/exports/{export_id}", headers=headers).json()
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach {base}: {exc}") from exc
    if record.get("sha256") != digest.hexdigest():
        raise fail(f"download does not match export #{export_id}'s sha256 (incomplete transfer?)")
    console.print(
        f"exported {record['trace_count']} traces to {out} ({record['byte_count']} bytes, "
        f"sha256 {record['sha256']}, export #{export_id})"
    )
    return int(export_id) if export_id and export_id.isdigit() else None
