"""`bugtrail env list|build|prune`: the QA environment image cache on this Docker host."""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bugtrail.cli.common import fail, load_settings, subcommands

if TYPE_CHECKING:
    from bugtrail.config import Settings
    from bugtrail.repos.schemas import RepoConfig
    from bugtrail.wire import TraceRead

env_app, register = subcommands("env", "QA environment images (per-repository test environments).")


@env_app.command("list")
def list_() -> None:
    """Environment images on this Docker host, most recently used first."""
    from rich.console import Console
    from rich.table import Table

    from bugtrail.qa.environments.cache import cap_bytes, listing

    settings = load_settings()
    with _client(settings) as client:
        rows = listing(settings, client)
    table = Table(title=f"environment images (cap {cap_bytes(settings) / 1024**3:.1f} GB)")
    for column in ("tag", "source", "python", "size", "last used", "repository"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["tag"],
            row["source"],
            row["python_version"] or "",
            _size(row["size_bytes"]),
            _when(row["last_used"]),
            row["repo_url"],
        )
    Console().print(table)
    typer.echo(f"{len(rows)} image(s), {_size(sum(r['size_bytes'] for r in rows))}")


@env_app.command("build")
def build(
    target: Annotated[str, typer.Argument(help="a trace id, or a repository URL (then give --commit)")],
    commit: Annotated[str | None, typer.Option(help="base commit (40-hex) when TARGET is a URL")] = None,
) -> None:
    """Prepare (build or reuse) the environment a trace, or a repository at a commit, would get."""
    from bugtrail.qa.environment_adapter import test_command_for
    from bugtrail.qa.environments import prepare_environment
    from bugtrail.qa.workspace import checkout, ensure_mirror

    settings = load_settings()
    trace, config = _trace_for(settings, target, commit)
    mirror = ensure_mirror(settings, trace.repo_url, trace.base_commit or "")
    log_dir = settings.data_dir.resolve() / "env-logs" / f"{int(time.time())}-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bugtrail-env-") as scratch:
        tree = Path(scratch) / "repo"
        checkout(mirror, trace.base_commit or "", tree, depth=1)  # the plan reads files only
        command = test_command_for(settings, trace, config)
        prepared = prepare_environment(settings, trace, config, tree, mirror, log_dir, command)
    info = prepared.info
    typer.echo(f"source: {info.source}; python {info.python_version}; image {prepared.image}")
    if info.python_version_note:
        typer.echo(f"note: {info.python_version_note}")
    for note in info.plan.notes if info.plan else []:
        typer.echo(f"  - {note}")
    if prepared.error:
        typer.echo(info.build_log_tail or "", err=True)
        raise fail(prepared.error, f"full log: {log_dir / 'env' / 'build.log'}")
    if info.inferred_installed or info.inferred_failed:
        typer.echo(f"inferred: installed {info.inferred_installed}, failed {info.inferred_failed}")
    reused = "reused from the cache" if info.cache_hit else f"built in {info.build_s or 0:.1f}s"
    typer.echo(f"ready: {prepared.image} ({reused})")


@env_app.command("prune")
def prune_(
    all_: Annotated[bool, typer.Option("--all", help="remove every environment image")] = False,
    older_than: Annotated[
        str | None, typer.Option(help="remove images unused for this long: 30m, 12h, 7d")
    ] = None,
    repo: Annotated[
        str | None, typer.Option(help="only images of repositories whose URL starts with this")
    ] = None,
) -> None:
    """Remove environment images: all, those unused for a while, or (default) LRU down to the size cap."""
    from bugtrail.qa.environments.cache import cap_bytes, prune

    settings = load_settings()
    seconds = _duration(older_than) if older_than else None
    with _client(settings) as client:
        removed = prune(
            settings,
            client,
            everything=all_,
            older_than_s=seconds,
            max_bytes=None if (all_ or seconds is not None) else cap_bytes(settings),
            repo_prefix=repo,
        )
    for row in removed:
        typer.echo(f"removed {row['tag']} ({_size(row['size_bytes'])}, {row['repo_url']})")
    typer.echo(f"removed {len(removed)} image(s), {_size(sum(r['size_bytes'] for r in removed))}")


class _client:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> object:
        from bugtrail.errors import Unavailable
        from bugtrail.qa.docker_api import docker_client

        try:
            self.client = docker_client(self.settings)
        except Unavailable as exc:
            raise fail(exc.message, "run scripts/setup-docker.sh") from exc
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()


def _trace_for(settings: Settings, target: str, commit: str | None) -> tuple[TraceRead, RepoConfig | None]:
    """The trace (stored, or made up for a URL and commit) and the repository configuration that applies."""
    from bugtrail.cli.common import open_database
    from bugtrail.qa import environment_adapter
    from bugtrail.qa.pipeline import load_trace_and_config
    from bugtrail.wire import TraceRead

    try:
        trace_id = uuid.UUID(target)
    except ValueError:
        if not commit or not re.fullmatch(r"[0-9a-f]{40}", commit):
            raise fail("a repository URL needs --commit with a 40-hex commit", None) from None
        now = datetime.now(UTC)
        trace = TraceRead(
            trace_id=uuid.uuid4(), developer_id="cli", repo_url=target, bug_description="bugtrail env build",
            base_commit=commit, status="completed", event_count=0, created_at=now, updated_at=now, events=[],
        )  # fmt: skip
        with open_database(settings) as database, database.scope(read_only=True) as session:
            return trace, environment_adapter.load_repo_config(session, settings, target)
    with open_database(settings) as database:
        loaded = load_trace_and_config(database, settings, str(trace_id))
    if loaded is None:
        raise fail(f"trace {trace_id} not found")
    if not loaded[0].base_commit:
        raise fail(f"trace {trace_id} has no base_commit; there is nothing to build")
    return loaded


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not match:
        raise fail(f"--older-than {text!r} is not a duration", "use e.g. 90s, 30m, 12h or 7d")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _size(count: int) -> str:
    return f"{count / 1024**2:.0f} MB" if count < 1024**3 else f"{count / 1024**3:.2f} GB"


def _when(timestamp: float) -> str:
    if not timestamp:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")
