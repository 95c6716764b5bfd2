"""The developer's verbs: start, run, note, snapshot, watch, finish, status, abort, sync, login.

Everything heavy is imported inside the commands, and only the SDK (never the server) is imported, so
`bugtrail note` starts in a fraction of a second. Notices go to stderr so a wrapped command's stdout is
exactly its own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from bugtrail.sdk.client import FlushReport
    from bugtrail.sdk.session import Recorder


def _say(message: str) -> None:
    typer.echo(f"bugtrail: {message}", err=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _say(message)
    return typer.Exit(code)


@contextmanager
def _recorder(server: str | None = None, timeout: float = 5.0) -> Iterator[Recorder]:
    """Open the session of the current repository; turn every known failure into a message and exit 1."""
    from bugtrail.sdk.client import AuthError
    from bugtrail.sdk.config import load_config
    from bugtrail.sdk.session import Recorder, SessionError
    from bugtrail.sdk.snapshots import GitError
    from bugtrail.sdk.transport import ApiError, TransportError

    try:
        recorder = Recorder.open(config=load_config(server=server), timeout=timeout)
    except GitError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:  # malformed server URL
        raise _fail(f"{exc}; fix it with `bugtrail login --server URL` or BUGTRAIL_SERVER") from None
    try:
        yield recorder
    except SessionError as exc:
        raise _fail(str(exc)) from None
    except GitError as exc:
        raise _fail(f"git failed: {exc}") from None
    except AuthError as exc:
        raise _fail(
            f"{exc}. Nothing was lost: events stay queued. Run `bugtrail login` (or set BUGTRAIL_API_KEY), "
            "then `bugtrail sync`."
        ) from None
    except TransportError as exc:
        raise _fail(
            f"{exc}. Is the server running? Check BUGTRAIL_SERVER or `bugtrail login --server`."
        ) from None
    except ApiError as exc:
        raise _fail(
            f"the server refused the request: {exc.error}" + (f" ({exc.detail})" if exc.detail else "")
        ) from None
    finally:
        recorder.close()


def _report_sync(report: FlushReport, quiet_when_ok: bool = True) -> None:
    for kind, event_id, error in report.rejected:
        _say(f"the server rejected a {kind}{f' (event {event_id})' if event_id else ''}: {error}")
    if report.pending and (report.error or report.skipped):
        why = report.error or "waiting before retrying"
        _say(
            f"{report.pending} event(s) queued locally ({why}); "
            "they are sent with the next command or `bugtrail sync`."
        )
    elif not quiet_when_ok:
        _say(f"sent {report.sent} queued operation(s); nothing pending.")


def _auto_sync(recorder: Recorder) -> None:
    """Drain after a command; an outage costs nothing (backoff) and never fails the command."""
    from bugtrail.sdk.client import AuthError

    try:
        _report_sync(recorder.sync(deadline=3.0, force=False))
    except AuthError as exc:
        _say(f"{exc}; events stay queued. Run `bugtrail login`, then `bugtrail sync`.")
    except KeyboardInterrupt:
        _say("sending interrupted; everything stays queued for the next command or `bugtrail sync`.")


def start(
    bug: str = typer.Option(..., "--bug", "-b", help="What is wrong, in a sentence or two."),
    test_command: str = typer.Option(None, "--test-command", "-t", help="How QA runs the tests."),
    repo_url: str = typer.Option(None, "--repo-url", help="Defaults to the 'origin' remote."),
    server: str = typer.Option(None, "--server", help="Overrides BUGTRAIL_SERVER and the config file."),
) -> None:
    """Start recording a debugging session in this git work tree."""
    with _recorder(server) as recorder:
        from bugtrail.sdk.client import AuthError

        session, edits = recorder.start(bug, test_command=test_command, repo_url=repo_url)
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
        typer.echo(f"Recording trace {session.trace_id} on {base}.")
        if edits:
            typer.echo(f"Recorded {len(edits)} uncommitted change(s) already in the work tree.")
        if session.repo_url.startswith("file://"):
            _say(
                f"repo_url is {session.repo_url} (no git remote): QA can only verify it if the server may "
                "clone that path; pass --repo-url next time for a shared repository."
            )
        typer.echo('Next: `bugtrail run -- <cmd>`, `bugtrail note "..."`, and `bugtrail finish` when fixed.')
        _report_sync(report)


def run(
    ctx: typer.Context,
    shell: bool = typer.Option(False, "--shell", "-s", help="Run one string through /bin/sh (pipes, &&)."),
) -> None:
    """Run a command as usual and record it: `bugtrail run -- pytest -x`."""
    raise typer.Exit(run_verb(list(ctx.args), shell))


def run_verb(argv: list[str], shell: bool) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise _fail("nothing to run: use `bugtrail run -- <command> [args...]`", 2)
    if shell or (len(argv) == 1 and " " in argv[0]):
        argv, shell = [" ".join(argv)], True
    from bugtrail.sdk.snapshots import GitError, GitRepo

    try:
        GitRepo.discover()
    except GitError:
        return _run_unrecorded(argv, shell, "not inside a git work tree")
    with _recorder() as recorder:
        if recorder.current() is None:
            return _run_unrecorded(argv, shell, 'no session here; `bugtrail start --bug "..."` starts one')
        result, _ = recorder.run(argv, shell=shell)
        _auto_sync(recorder)
    return result.exit_code


def _run_unrecorded(argv: list[str], shell: bool, why: str) -> int:
    """The command still runs (a habitual `bugtrail run` must never get in the way); it is just not kept."""
    from bugtrail.sdk.capture import run_command

    _say(f"not recording ({why}).")
    return run_command(argv[0] if shell else argv, shell=shell).exit_code


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


def note_verb(text: list[str], kind: str, confidence: str | None, refers_to: list[str]) -> None:
    from bugtrail.sdk.events import CONFIDENCES, REASONING_TYPES

    if kind not in REASONING_TYPES:
        raise _fail(f"--type must be one of: {', '.join(REASONING_TYPES)}", 2)
    if confidence and confidence not in CONFIDENCES:
        raise _fail(f"--confidence must be one of: {', '.join(CONFIDENCES)}", 2)
    body = " ".join(text).strip() or _read_note_text()
    if not body:
        raise _fail("empty note, nothing recorded", 2)
    with _recorder() as recorder:
        recorder.note(body, reasoning_type=kind, confidence=confidence, refers_to=refers_to)
        _auto_sync(recorder)


def _read_note_text() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().strip()
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w+", suffix=".md", prefix="bugtrail-note-", delete=False) as handle:
        handle.write("\n# Write your note above. Lines starting with '#' are ignored.\n")
        path = handle.name
    try:
        subprocess.run([*shlex.split(editor), path], check=False)
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle if not line.startswith("#")]
    finally:
        os.unlink(path)
    return "".join(lines).strip()


def snapshot() -> None:
    """Record every file changed since the last snapshot as one edit each."""
    with _recorder() as recorder:
        edits = recorder.snapshot()
        typer.echo(f"Recorded {len(edits)} edit(s)." if edits else "No changes since the last snapshot.")
        _auto_sync(recorder)


def watch(
    quiet: float = typer.Option(1.0, "--quiet-seconds", help="Snapshot after this long without changes."),
) -> None:
    """Snapshot automatically when files are saved (Ctrl-C to stop)."""
    from bugtrail.sdk.watch import watch as watch_tree

    with _recorder() as recorder:
        recorder.require()
        typer.echo(f"Watching {recorder.repo.root} (Ctrl-C to stop).")

        def on_change() -> bool:
            if recorder.current() is None:
                return False
            edits = recorder.snapshot()
            if edits:
                typer.echo(f"Recorded {len(edits)} edit(s).")
                _auto_sync(recorder)
            return True

        with contextlib.suppress(KeyboardInterrupt):
            watch_tree(
                recorder.repo.root,
                recorder.repo.git_dir,
                on_change,
                quiet_s=quiet,
                alive=lambda: recorder.current() is not None,
            )
        typer.echo("Stopped watching.")


def finish(
    wait: bool = typer.Option(False, "--wait", "-w", help="Wait for QA and print the verdict."),
    timeout: float = typer.Option(1800.0, "--timeout", help="With --wait: give up waiting after this long."),
) -> None:
    """Record the last edits, send everything and hand the trace to QA."""
    with _recorder(timeout=10.0) as recorder:
        session, edits, report = recorder.finish()
        if edits:
            typer.echo(f"Recorded {len(edits)} final edit(s).")
        _report_sync(report)
        if report.pending:
            raise _fail(
                f"trace {session.trace_id} is finished locally but not yet on the server; "
                "run `bugtrail sync` when it is reachable (the spool keeps everything).",
                0,
            )
        typer.echo(f"Trace {session.trace_id} finalized; QA queued.")
        if wait:
            from bugtrail.cli.recorder_view import show_qa_progress

            show_qa_progress(recorder.client, session.trace_id, timeout)


def status() -> None:
    """Show the session, what is still queued locally and the trace's state on the server."""
    from bugtrail.cli.recorder_view import show_status

    with _recorder(timeout=3.0) as recorder:
        show_status(recorder)


def abort(yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation.")) -> None:
    """Stop recording and discard the events not yet sent."""
    with _recorder() as recorder:
        session = recorder.require()
        if not yes and sys.stdin.isatty() and not typer.confirm(f"Discard session {session.trace_id}?"):
            raise typer.Exit(1)
        _, dropped = recorder.abort()
        typer.echo(f"Session {session.trace_id} aborted; {dropped} unsent operation(s) discarded.")


def sync() -> None:
    """Send everything queued locally now (after an outage)."""
    with _recorder(timeout=10.0) as recorder:
        report = recorder.sync(deadline=30.0)
        _report_sync(report, quiet_when_ok=False)
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
        typer.echo(f"Logged in as {who.get('developer_id')} ({who.get('role')}).")
    path = save_config(server, api_key)
    typer.echo(f"Saved to {path}.")


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
    ("watch", watch, {}),
    ("finish", finish, {}),
    ("status", status, {}),
    ("abort", abort, {}),
    ("sync", sync, {}),
    ("login", login, {}),
]


def fast_path(argv: list[str]) -> None:
    """`run`, `note`, `snapshot` without Typer's parser, which builds pydantic adapters (~250 ms) per call.

    Exits when it handled the verb; returns (for Typer to take over) on anything else, including --help.
    The options mirror the Typer definitions above, which remain the documented interface.
    """
    if (
        not argv
        or argv[0] not in ("run", "note", "snapshot")
        or any(a in ("--help", "-h") for a in argv[1:2])
    ):
        return
    if argv[0] == "snapshot":
        if len(argv) > 1:
            return  # let Typer explain the usage error
        try:
            snapshot()
            code = 0
        except typer.Exit as exc:
            code = exc.exit_code
        sys.exit(code)
    import argparse

    parser = argparse.ArgumentParser(prog=f"bugtrail {argv[0]}", add_help=False)
    try:
        if argv[0] == "run":
            parser.add_argument("--shell", "-s", action="store_true")
            args, rest = (
                parser.parse_known_args(argv[1:])
                if argv[1:2] in (["--shell"], ["-s"])
                else (parser.parse_args([]), argv[1:])
            )
            if args.shell:
                rest = rest[1:] if rest[:1] == ["--"] else rest
            code = run_verb(rest, args.shell)
        else:
            parser.add_argument("text", nargs="*")
            parser.add_argument("--type", "-t", default="observation")
            parser.add_argument("--confidence", "-c")
            parser.add_argument("--refers-to", "-r", action="append", default=[])
            args = parser.parse_args(argv[1:])
            note_verb(args.text, args.type, args.confidence, args.refers_to)
            code = 0
    except typer.Exit as exc:
        code = exc.exit_code
    except SystemExit as exc:  # argparse usage error
        code = int(exc.code or 0)
    sys.exit(code)


def register(app: typer.Typer) -> None:
    for name, func, options in COMMANDS:
        app.command(name, **options)(func)
