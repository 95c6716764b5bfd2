"""The recorder on the Typer app: start, run, note, snapshot, watch, finish, status, reviews, abort, sync,
login.

The logic lives in recorder_verbs.py (no Typer there), so `bugtrail run/note/snapshot` can skip this
module entirely (see bugtrail.cli.entry); these definitions give --help and the rarer verbs. Only the SDK,
never the server, is imported, always inside the commands.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from typing import Any

import typer

from bugtrail.cli.recorder_verbs import (
    CliExit,
    auto_sync,
    echo,
    note_verb,
    report_sync,
    run_verb,
    say,
    shell_verb,
    snapshot_verb,
)
from bugtrail.cli.recorder_verbs import fail as _fail
from bugtrail.cli.recorder_verbs import open_recorder as _recorder


def start(
    bug: str = typer.Option(..., "--bug", "-b", help="What is wrong, in a sentence or two."),
    test_command: str = typer.Option(None, "--test-command", "-t", help="How QA runs the tests."),
    repo_url: str = typer.Option(None, "--repo-url", help="Defaults to the 'origin' remote."),
    environment: bool = typer.Option(
        True,
        "--environment/--no-environment",
        help="Record your Python version and installed packages (pip freeze) so QA can rebuild them.",
    ),
    python: str = typer.Option(
        None,
        "--python",
        help="The interpreter your commands use; default $VIRTUAL_ENV, .venv/venv here, then PATH.",
    ),
) -> None:
    """Start recording a debugging session in this git work tree."""
    with _recorder() as recorder:
        from bugtrail.sdk.client import AuthError

        captured = _capture_environment(recorder, python) if environment else None
        session, edits = recorder.start(
            bug, test_command=test_command, repo_url=repo_url, environment=captured
        )
        try:
            report = recorder.sync(deadline=5.0)
        except AuthError as exc:
            recorder.abort()  # a refused key never starts working by itself: start clean after the fix
            raise _fail(f"{exc}. Run `bugtrail login` (or set BUGTRAIL_API_KEY) and start again.") from None
        create_errors = [error for kind, _, error in report.rejected if kind == "create_trace"]
        if create_errors:
            recorder.abort()
            raise _fail(f"the server refused the new trace: {create_errors[0]}. Fix that and start again.")
        base = session.base_commit[:12] if session.base_commit else "(no commits yet)"
        echo(f"Recording trace {session.trace_id} on {base}.")
        if captured is not None:
            _describe_environment(captured)
        if edits:
            echo(f"Recorded {len(edits)} uncommitted change(s) already in the work tree.")
        if session.repo_url.startswith("file://"):
            say(
                f"repo_url is {session.repo_url} (no git remote): QA can only verify it if the server may "
                "clone that path; pass --repo-url next time for a shared repository."
            )
        echo(
            "Next: `bugtrail shell` (every command recorded) or `bugtrail run -- <cmd>`, "
            '`bugtrail note "..."`, and `bugtrail finish` when fixed.'
        )
        report_sync(report)


def _capture_environment(recorder: Any, python: str | None) -> dict[str, Any] | None:
    """Capture only when a session can start (an existing one makes `start` fail anyway)."""
    if recorder.current() is not None:
        return None
    from bugtrail.sdk.environment import capture_environment

    return capture_environment(python=python, work_tree=recorder.repo.root)


def _describe_environment(captured: dict[str, Any]) -> None:
    version = captured.get("python_version")
    project = f"; project: {', '.join(captured['project'])}" if captured.get("project") else ""
    if version:
        echo(f"Environment: Python {version}, {len(captured.get('packages', []))} package(s){project}.")
    for note in captured.get("notes", []):
        say(f"environment: {note}")


def run(
    ctx: typer.Context,
    command: list[str] = typer.Argument(None, metavar="-- COMMAND [ARGS]...", help="What to run."),
    shell: bool = typer.Option(False, "--shell", "-s", help="Run one string through /bin/sh (pipes, &&)."),
) -> None:
    """Run a command as usual and record it: `bugtrail run -- pytest -x`.

    Output streams live, the exit code passes through; edits since the last event are recorded first.
    """
    raise typer.Exit(run_verb([*(command or []), *ctx.args], shell))


def note(
    text: list[str] = typer.Argument(None, help="The note; from stdin or $EDITOR when omitted."),
    kind: str = typer.Option(
        "observation",
        "--type",
        "-t",
        help="hypothesis | alternative | rationale | observation | outcome | plan",
    ),
    confidence: str = typer.Option(None, "--confidence", "-c", help="low | medium | high"),
    refers_to: list[str] = typer.Option(
        None, "--refers-to", "-r", help="An event id, or last | last-command | last-edit | last-note."
    ),
) -> None:
    """Record a reasoning note (why you think what you think)."""
    note_verb(text or [], kind, confidence, refers_to or [])


def shell(
    no_output: bool = typer.Option(False, "--no-output", help="Record the commands without their output."),
    shell_path: str = typer.Option(None, "--shell", help="bash or zsh to run (default: $SHELL)."),
) -> None:
    """Open your shell with every command recorded (no `bugtrail run` prefix needed); `exit` leaves it."""
    raise typer.Exit(shell_verb(not no_output, shell_path))


def snapshot() -> None:
    """Record every file changed since the last snapshot as one edit each."""
    snapshot_verb()


def watch(
    quiet: float = typer.Option(1.0, "--quiet-seconds", help="Snapshot after this long without changes."),
) -> None:
    """Snapshot automatically when files are saved (Ctrl-C to stop)."""
    from bugtrail.sdk.watch import watch as watch_tree

    with _recorder() as recorder:
        recorder.require()
        echo(f"Watching {recorder.repo.root} (Ctrl-C to stop).")

        from bugtrail.sdk.session import SessionError

        def on_change() -> bool:
            try:
                edits = recorder.snapshot()
            except SessionError:  # finished or aborted in another terminal meanwhile
                return False
            if edits:
                echo(f"Recorded {len(edits)} edit(s).")
                auto_sync(recorder)
            return True

        with contextlib.suppress(KeyboardInterrupt):
            watch_tree(
                recorder.repo.root,
                recorder.repo.git_dir,
                on_change,
                quiet_s=quiet,
                alive=lambda: recorder.current() is not None,
            )
        echo("Stopped watching.")


def finish(
    wait: bool = typer.Option(False, "--wait", "-w", help="Wait for QA and print the verdict."),
    timeout: float = typer.Option(1800.0, "--timeout", help="With --wait: give up waiting after this long."),
) -> None:
    """Record the last edits, send everything and hand the trace to QA."""
    with _recorder(timeout=10.0) as recorder:
        session, edits, report = recorder.finish()
        if edits:
            echo(f"Recorded {len(edits)} final edit(s).")
        report_sync(report)
        if report.pending:
            raise _fail(
                f"trace {session.trace_id} is finished locally but not yet on the server; "
                "run `bugtrail sync` when it is reachable (the spool keeps everything).",
                0,
            )
        echo(f"Trace {session.trace_id} finalized; QA queued.")
        if wait:
            from bugtrail.cli.recorder_view import show_qa_progress

            show_qa_progress(recorder.client, session.trace_id, timeout)


def status() -> None:
    """Show the session, what is still queued locally and the trace's state on the server."""
    from bugtrail.cli.recorder_view import show_status

    with _recorder(timeout=3.0) as recorder:
        show_status(recorder)


def reviews(
    trace_id: str = typer.Argument(None, help="One trace; default: your reviewed traces, newest first."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=500, help="At most this many traces."),
) -> None:
    """Show the human reviews of your traces: decision, scores, reason and feedback."""
    from bugtrail.cli.reviews_view import show_reviews
    from bugtrail.sdk.config import load_config
    from bugtrail.sdk.transport import ApiError, Transport, TransportError

    config = load_config()
    try:
        transport = Transport(config.base_url, config.api_key, timeout=10.0)
    except ValueError as exc:
        raise _fail(f"{exc}; fix it with `bugtrail login --server URL` or BUGTRAIL_SERVER") from None
    try:
        show_reviews(transport, trace_id, limit)
    except TransportError as exc:
        raise _fail(
            f"{exc}. Is the server running? Check BUGTRAIL_SERVER or `bugtrail login --server`."
        ) from None
    except ApiError as exc:
        if exc.status in (401, 403):
            raise _fail(f"{exc.error}. Run `bugtrail login` (or set BUGTRAIL_API_KEY).") from None
        raise _fail(f"the server refused the request: {exc.error}") from None
    finally:
        transport.close()


def abort(yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Stop recording and discard the events not yet sent."""
    with _recorder() as recorder:
        session = recorder.require()
        if not yes and sys.stdin.isatty() and not typer.confirm(f"Discard session {session.trace_id}?"):
            raise typer.Exit(1)
        _, dropped = recorder.abort()
        echo(f"Session {session.trace_id} aborted; {dropped} unsent operation(s) discarded.")


def sync() -> None:
    """Send everything queued locally now (after an outage)."""
    with _recorder(timeout=10.0) as recorder:
        report = recorder.sync(deadline=30.0)
        report_sync(report, quiet_when_ok=False)
        if report.pending:
            raise typer.Exit(1)


def login(
    server: str = typer.Option(None, "--server", help="e.g. https://bugtrail.example.org"),
    api_key: str = typer.Option(None, "--api-key", help="Prompted for (hidden) when omitted."),
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Check the key against the server."),
) -> None:
    """Save the server URL and API key to ~/.config/bugtrail/config.toml (mode 0600)."""
    from bugtrail.sdk.config import load_config, save_config
    from bugtrail.sdk.transport import ApiError, Transport, TransportError

    current = load_config()
    server = server or typer.prompt("Server URL", default=current.server)
    api_key = api_key or typer.prompt("API key", hide_input=True)
    if verify:
        try:
            who = Transport(server.rstrip("/"), api_key, timeout=10.0).request("GET", "/api/whoami").body
        except ValueError as exc:
            raise _fail(str(exc)) from None
        except TransportError as exc:
            raise _fail(f"{exc}. Check the URL, or save anyway with --no-verify.") from None
        except ApiError as exc:
            raise _fail(f"the server refused this key ({exc.error}). Ask an admin for a new one.") from None
        echo(f"Logged in as {who.get('developer_id')} ({who.get('role')}).")
    path = save_config(server, api_key)
    echo(f"Saved to {path}.")


COMMANDS: list[tuple[str, Callable[..., Any], dict[str, Any]]] = [
    ("start", start, {}),
    (
        "run",
        run,
        {
            "context_settings": {
                "allow_extra_args": True,
                "ignore_unknown_options": True,
                "allow_interspersed_args": False,
            }
        },
    ),
    ("note", note, {}),
    ("snapshot", snapshot, {}),
    ("shell", shell, {}),
    ("watch", watch, {}),
    ("finish", finish, {}),
    ("status", status, {}),
    ("reviews", reviews, {}),
    ("abort", abort, {}),
    ("sync", sync, {}),
    ("login", login, {}),
]


def _exits(func: Callable[..., Any]) -> Callable[..., Any]:
    """CliExit (raised by the verbs) -> typer.Exit, keeping the signature Typer reads the options from."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CliExit as exc:
            raise typer.Exit(exc.code) from None

    return wrapper


def fast_path(argv: list[str]) -> None:
    """Kept for bugtrail.cli.app.main (an older entry point): the same shortcut as bugtrail.cli.entry."""
    from bugtrail.cli.recorder_verbs import fast_path as verbs_fast_path

    verbs_fast_path(argv)


def register(app: typer.Typer) -> None:
    for name, func, options in COMMANDS:
        app.command(name, **options)(_exits(func))
