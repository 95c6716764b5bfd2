"""The recorder verbs developers type all day, without Typer (or anything else heavy) imported.

`bugtrail run/note/snapshot` go straight here from bugtrail.cli.entry, skipping the Typer app (whose import
and per-call parameter handling cost ~2/3 of the CLI's start-up); recorder_cmd.py registers the same
functions on the Typer app for --help and the other verbs. Notices go to stderr so that a wrapped command's
stdout is exactly its own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugtrail.sdk.client import FlushReport
    from bugtrail.sdk.session import Recorder

FAST_VERBS = ("run", "note", "snapshot", "shell")


class CliExit(Exception):
    """Leave the command with this exit code (the message, if any, was already printed)."""

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)
        self.code = code


def echo(message: str) -> None:
    print(message, flush=True)


def say(message: str) -> None:
    print(f"bugtrail: {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 1) -> CliExit:
    say(message)
    return CliExit(code)


@contextmanager
def open_recorder(timeout: float = 5.0) -> Iterator[Recorder]:
    """Open the session of the current repository; turn every known failure into a message and exit 1."""
    from bugtrail.sdk.client import AuthError
    from bugtrail.sdk.config import load_config
    from bugtrail.sdk.session import Recorder, SessionError
    from bugtrail.sdk.snapshots import GitError
    from bugtrail.sdk.transport import ApiError, TransportError

    try:
        recorder = Recorder.open(config=load_config(), timeout=timeout)
    except GitError as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # malformed server URL
        raise fail(f"{exc}; fix it with `bugtrail login --server URL` or BUGTRAIL_SERVER") from None
    try:
        yield recorder
    except SessionError as exc:
        raise fail(str(exc)) from None
    except GitError as exc:
        raise fail(f"git failed: {exc}") from None
    except AuthError as exc:
        raise fail(
            f"{exc}. Nothing was lost: events stay queued. Run `bugtrail login` (or set BUGTRAIL_API_KEY), "
            "then `bugtrail sync`."
        ) from None
    except TransportError as exc:
        raise fail(
            f"{exc}. Is the server running? Check BUGTRAIL_SERVER or `bugtrail login --server`."
        ) from None
    except ApiError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        raise fail(f"the server refused the request: {exc.error}{detail}") from None
    finally:
        recorder.close()


def report_sync(report: FlushReport, quiet_when_ok: bool = True) -> None:
    for kind, event_id, error in report.rejected:
        say(f"the server rejected a {kind}{f' (event {event_id})' if event_id else ''}: {error}")
    if report.pending and (report.error or report.skipped):
        why = report.error or "waiting before retrying"
        say(
            f"{report.pending} event(s) queued locally ({why}); "
            "they are sent with the next command or `bugtrail sync`."
        )
    elif not quiet_when_ok:
        say(f"sent {report.sent} queued operation(s); nothing pending.")


def auto_sync(recorder: Recorder) -> None:
    """Drain after a command; an outage costs nothing (backoff) and never fails the command."""
    from bugtrail.sdk.client import AuthError

    try:
        report_sync(recorder.sync(deadline=3.0, force=False))
    except AuthError as exc:
        say(f"{exc}; events stay queued. Run `bugtrail login`, then `bugtrail sync`.")
    except KeyboardInterrupt:
        say("sending interrupted; everything stays queued for the next command or `bugtrail sync`.")


def run_verb(argv: list[str], shell: bool) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        raise fail("nothing to run: use `bugtrail run -- <command> [args...]`", 2)
    if shell or (len(argv) == 1 and " " in argv[0]):
        argv, shell = [" ".join(argv)], True
    from bugtrail.sdk.snapshots import GitError, GitRepo

    try:
        GitRepo.discover()
    except GitError:
        return _run_unrecorded(argv, shell, "not inside a git work tree")
    with open_recorder() as recorder:
        if recorder.current() is None:
            return _run_unrecorded(argv, shell, 'no session here; `bugtrail start --bug "..."` starts one')
        result, _ = recorder.run(argv, shell=shell)
        auto_sync(recorder)
    return result.exit_code


def _run_unrecorded(argv: list[str], shell: bool, why: str) -> int:
    """The command still runs (a habitual `bugtrail run` must never get in the way); it is just not kept."""
    from bugtrail.sdk.capture import run_command

    say(f"not recording ({why}).")
    return run_command(argv[0] if shell else argv, shell=shell).exit_code


def note_verb(text: list[str], kind: str, confidence: str | None, refers_to: list[str]) -> None:
    from bugtrail.sdk.events import CONFIDENCES, REASONING_TYPES

    if kind not in REASONING_TYPES:
        raise fail(f"--type must be one of: {', '.join(REASONING_TYPES)}", 2)
    if confidence and confidence not in CONFIDENCES:
        raise fail(f"--confidence must be one of: {', '.join(CONFIDENCES)}", 2)
    body = " ".join(text).strip() or _read_note_text()
    if not body:
        raise fail("empty note, nothing recorded", 2)
    with open_recorder() as recorder:
        recorder.note(body, reasoning_type=kind, confidence=confidence, refers_to=refers_to)
        auto_sync(recorder)


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


def snapshot_verb() -> None:
    with open_recorder() as recorder:
        edits = recorder.snapshot()
        echo(f"Recorded {len(edits)} edit(s)." if edits else "No changes since the last snapshot.")
        auto_sync(recorder)


def fast_path(argv: list[str]) -> None:
    """Run `run`, `note`, `snapshot` or `shell` and exit; return (for Typer to take over) on anything else.

    Anything unusual (--help, a usage error) is also left to Typer, whose definitions in recorder_cmd.py
    remain the documented interface; the options parsed here mirror them.
    """
    if not argv or argv[0] not in FAST_VERBS or any(a in ("--help", "-h") for a in argv[1:2]):
        return
    import argparse

    class _Usage(Exception):
        pass

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise _Usage(message)

    parser = _Parser(prog=f"bugtrail {argv[0]}", add_help=False)
    try:
        if argv[0] == "snapshot":
            if len(argv) > 1:
                return
            snapshot_verb()
            code = 0
        elif argv[0] == "shell":
            parser.add_argument("--no-output", action="store_true")
            parser.add_argument("--shell", dest="shell_path")
            args = parser.parse_args(argv[1:])
            code = shell_verb(not args.no_output, args.shell_path)
        elif argv[0] == "run":
            shell = argv[1:2] in (["--shell"], ["-s"])
            rest = argv[2:] if shell else argv[1:]
            code = run_verb(rest[1:] if shell and rest[:1] == ["--"] else rest, shell)
        else:
            parser.add_argument("text", nargs="*")
            parser.add_argument("--type", "-t", default="observation")
            parser.add_argument("--confidence", "-c")
            parser.add_argument("--refers-to", "-r", action="append", default=[])
            args = parser.parse_args(argv[1:])
            note_verb(args.text, args.type, args.confidence, args.refers_to)
            code = 0
    except _Usage:
        return  # Typer prints the proper usage message
    except CliExit as exc:
        code = exc.code
    sys.exit(code)


def shell_verb(record_output: bool = True, shell_path: str | None = None) -> int:
    """Open the developer's shell with every command line recorded; the session stays open afterwards."""
    from pathlib import Path

    from bugtrail.sdk.shell import ShellSession
    from bugtrail.sdk.shell_hooks import shell_kind

    if os.environ.get("BUGTRAIL_SHELL"):
        raise fail("already inside `bugtrail shell` (type `exit` to leave it)", 2)
    shell_path = shell_path or os.environ.get("SHELL") or "/bin/bash"
    if shell_kind(shell_path) is None:
        raise fail(f"{shell_path}: bugtrail shell supports bash and zsh; pick one with --shell /bin/bash", 2)
    if not sys.stdin.isatty():
        raise fail("bugtrail shell needs a terminal (stdin is not one)", 2)
    with open_recorder() as recorder:
        session = recorder.require()
        state: dict[str, str | None] = {"floor": None}

        def on_job(kind: str, payload: Any) -> None:
            if recorder.current() is None:  # `bugtrail finish` or `abort` ran inside the shell
                return
            if kind == "start":
                state["floor"] = recorder.begin_command()
                return
            running, result = payload
            recorder.record_command(session, running.command, Path(running.cwd), result, state["floor"])
            recorder.snapshot()  # what the command itself changed comes after it
            with contextlib.suppress(Exception):  # an outage costs nothing: everything stays spooled
                recorder.sync(deadline=3.0, force=False)

        output_note = "" if record_output else " (commands only, no output)"
        say(
            f"recording every command into trace {session.trace_id}{output_note}. "
            "`exit` leaves the shell; the session stays open until `bugtrail finish`. "
            f"End a command with {'#bugtrail:skip'} to keep it out."
        )
        code = ShellSession(shell_path, record_output).run(on_job)
        auto_sync(recorder)
        say("left the recorded shell; the session is still open (`bugtrail finish` when fixed).")
    return code
