"""`bugtrail shell`: the developer's own shell on a pseudo-terminal we own, every command line recorded.

The shell's hooks (sdk/shell_hooks.py) print start/end markers into the terminal stream. This process copies
keystrokes to the shell and the shell's output to the real terminal unchanged except for the markers, which
it removes; the bytes between a start and an end marker are the command's output. A worker thread does the
recording through the same Recorder as `bugtrail run` (snapshot first, spool, capping, ANSI stripping). The
shell's hook waits for the snapshot before the command runs (a byte on a FIFO, at most 2 s), so edits keep
their place as with `run`; the command event, the snapshot after it and the send never delay the prompt.
Interactive programs (editors, pagers, REPLs, anything switching to the alternate screen) are recorded as
ran, with their duration, not their screen.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import select
import shlex
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bugtrail.sdk import shell_hooks
from bugtrail.sdk.capture import DEFAULT_MAX_OUTPUT_BYTES, CappedOutput, CommandResult

SKIP_SUFFIX = "#bugtrail:skip"
ALT_SCREEN = (b"\x1b[?1049h", b"\x1b[?1047h", b"\x1b[?47h")
INTERACTIVE_PROGRAMS = frozenset(
    {
        "vi",
        "vim",
        "nvim",
        "view",
        "nano",
        "emacs",
        "less",
        "more",
        "most",
        "man",
        "top",
        "htop",
        "watch",
        "ssh",
        "tmux",
        "screen",
        "mc",
        "ranger",
        "tig",
        "fzf",
    }
)
REPLS = frozenset({"python", "python3", "ipython", "node", "irb", "psql", "sqlite3", "mysql", "bash", "zsh"})
INTERACTIVE_NOTE = "[bugtrail: interactive program; its screen was not recorded]"
_CALLER_WORDS = frozenset({"sudo", "env", "command", "exec", "nice", "time", "nohup"})


def interactive_program(command: str) -> str | None:
    """The program's name if the command line starts an editor, pager or REPL (by name)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    while words and (("=" in words[0] and not words[0].startswith("=")) or words[0] in _CALLER_WORDS):
        words = words[1:]
    if not words:
        return None
    name = os.path.basename(words[0])
    if name in INTERACTIVE_PROGRAMS:
        return name
    repl = re.sub(r"[\d.]+$", "", name) if name.startswith("python") else name
    if repl in REPLS and len(words) == 1:
        return name
    return None


@dataclass
class _Running:
    command: str
    cwd: str
    started_at: str
    started: float
    capture: CappedOutput | None
    alt_screen: bool = False


@dataclass
class MarkerParser:
    """Splits the shell's output into what the terminal shows and the markers (which it must not show)."""

    nonce: bytes
    pending: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[tuple[str, Any]]:
        """Returns ("out", bytes) and ("marker", [fields]) items in stream order."""
        self.pending += data
        prefix = shell_hooks.MARKER_PREFIX + self.nonce + b";"
        items: list[tuple[str, Any]] = []
        buf = bytes(self.pending)
        pos = 0
        while True:
            start = buf.find(prefix, pos)
            if start < 0:
                # Keep a possible beginning of a marker for the next read.
                keep = _partial_prefix(buf[pos:], prefix)
                if len(buf) - keep > pos:
                    items.append(("out", buf[pos : len(buf) - keep]))
                self.pending = bytearray(buf[len(buf) - keep :])
                return items
            end = buf.find(b"\x07", start)
            if end < 0:
                if start > pos:
                    items.append(("out", buf[pos:start]))
                self.pending = bytearray(buf[start:])
                return items
            if start > pos:
                items.append(("out", buf[pos:start]))
            items.append(("marker", buf[start + len(prefix) : end].split(b";")))
            pos = end + 1


def _partial_prefix(tail: bytes, prefix: bytes) -> int:
    for size in range(min(len(tail), len(prefix) - 1), 0, -1):
        if prefix.startswith(tail[-size:]):
            return size
    return 0


class ShellSession:
    """Runs the shell on a pty and hands finished commands to the recording thread."""

    def __init__(
        self, shell_path: str, record_output: bool, max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    ) -> None:
        self.shell_path = shell_path
        self.record_output = record_output
        self.max_output_bytes = max_output_bytes
        self.nonce = secrets.token_hex(8)
        self.parser = MarkerParser(self.nonce.encode())
        self.jobs: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self.running: _Running | None = None
        self.master = -1
        self.ack = -1

    def run(self, on_job: Any) -> int:
        """Run the shell until it exits; `on_job(kind, payload)` runs in a thread for each start/end."""
        worker = threading.Thread(target=self._work, args=(on_job,), daemon=True)
        worker.start()
        with tempfile.TemporaryDirectory(prefix="bugtrail-shell-") as tmp:
            argv, extra_env = shell_hooks.prepare(self.shell_path, Path(tmp))
            ack_path = Path(tmp) / "ack"
            os.mkfifo(ack_path, 0o600)
            # Held open for reading and writing: the hook's open never blocks, our writes never fail.
            self.ack = os.open(ack_path, os.O_RDWR | os.O_NONBLOCK)
            env = {
                **os.environ,
                **extra_env,
                "BUGTRAIL_SHELL": "1",
                "BUGTRAIL_SHELL_NONCE": self.nonce,
                "BUGTRAIL_SHELL_ACK": str(ack_path),
            }
            try:
                status = self._pty_loop(argv, env)
            finally:
                self.jobs.put(None)
                worker.join(timeout=30)
                os.close(self.ack)
        return status

    def _release(self) -> None:
        """Let the command that waits in the shell's hook run."""
        with contextlib.suppress(OSError):
            os.write(self.ack, b".")

    def _work(self, on_job: Any) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            try:
                on_job(*job)
            except Exception as exc:  # recording must never take the developer's shell down
                sys.stderr.write(f"\r\nbugtrail: could not record a command: {exc}\r\n")
            finally:
                if job[0] == "start":
                    self._release()

    def _pty_loop(self, argv: list[str], env: dict[str, str]) -> int:
        import pty
        import termios
        import tty

        stdin = sys.stdin.fileno()
        size = _window_size(stdin)
        pid, master = pty.fork()
        if pid == 0:  # the child: the pty is its controlling terminal and stdio
            try:
                if size:
                    _set_window_size(0, size)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.master = master
        saved = termios.tcgetattr(stdin) if os.isatty(stdin) else None
        previous = {signal.SIGWINCH: signal.signal(signal.SIGWINCH, lambda *_: self._resize(stdin))}
        for signum in (signal.SIGHUP, signal.SIGTERM):
            # The terminal closed or we were told to stop: hang up the shell, keep what is queued.
            previous[signum] = signal.signal(signum, _leave)
        try:
            if saved is not None:
                tty.setraw(stdin)
            self._copy(stdin, master)
        finally:
            if saved is not None:
                termios.tcsetattr(stdin, termios.TCSAFLUSH, saved)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            with contextlib.suppress(OSError):
                os.close(master)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    def _resize(self, stdin: int) -> None:
        size = _window_size(stdin)
        if size and self.master >= 0:
            with contextlib.suppress(OSError):
                _set_window_size(self.master, size)

    def _copy(self, stdin: int, master: int) -> None:
        out = sys.stdout.fileno()
        readers = [master, stdin]
        while True:
            try:
                ready, _, _ = select.select(readers, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the shell and everything on its terminal are gone
                    data = b""
                if not data:
                    return
                for kind, item in self.parser.feed(data):
                    if kind == "out":
                        _write_all(out, item)
                        self._observe(item)
                    else:
                        self._marker(item)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    readers.remove(stdin)  # our input ended; the shell sees EOF at its next read
                    continue
                _write_all(master, data)

    def _observe(self, data: bytes) -> None:
        running = self.running
        if running is None:
            return
        if not running.alt_screen and any(seq in data for seq in ALT_SCREEN):
            running.alt_screen = True
        if running.capture is not None:
            running.capture.feed(data)

    def _marker(self, fields: list[bytes]) -> None:
        if fields[:1] == [b"S"] and len(fields) >= 3:
            command = shell_hooks.unescape(fields[1]).strip()
            cwd = shell_hooks.unescape(fields[2])
            record = bool(command) and not _excluded(command)
            self.running = (
                _Running(
                    command=command,
                    cwd=cwd,
                    started_at=datetime.now(UTC).isoformat(timespec="microseconds"),
                    started=time.monotonic(),
                    capture=CappedOutput(self.max_output_bytes) if self.record_output else None,
                )
                if record
                else None
            )
            if record:
                self.jobs.put(("start", None))  # the worker releases the command after the snapshot
            else:
                self._release()
        elif fields[:1] == [b"E"] and len(fields) >= 2:
            running, self.running = self.running, None
            if running is None:  # a prompt after an empty line, or a skipped command
                return
            try:
                code = int(fields[1])
            except ValueError:
                code = -1
            self.jobs.put(("end", (running, _result(running, code))))


def _leave(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _excluded(command: str) -> bool:
    # `bugtrail run/note/...` record themselves; `#bugtrail:skip` asks us not to.
    return command.rstrip().endswith(SKIP_SUFFIX) or command.split()[0] == "bugtrail"


def _result(running: _Running, code: int) -> CommandResult:
    duration_ms = int((time.monotonic() - running.started) * 1000)
    program = interactive_program(running.command) or ("(alternate screen)" if running.alt_screen else None)
    details: dict[str, Any]
    if program is not None:
        details = {"output": INTERACTIVE_NOTE, "interactive": True}
    elif running.capture is None:
        details = {"output_recorded": False}
    else:
        details = running.capture.finish()
        details["output"] = as_shown(details["output"])
    return CommandResult(code, duration_ms, running.started_at, details)


def as_shown(text: str) -> str:
    """Lines as the terminal showed them: the pty's "\r\n" is "\n", and a bare "\r" returns to the start
    of the line, so a progress bar keeps its last state and zsh's partial-line marker (PROMPT_SP) vanishes."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if "\r" in line:
            segments = line.split("\r")
            shown = segments[0]
            for segment in segments[1:]:
                shown = segment + shown[len(segment) :]
            line = shown.rstrip(" ")
        lines.append(line)
    return "\n".join(lines)


def _window_size(fd: int) -> bytes | None:
    import fcntl
    import termios

    try:
        return fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
    except OSError:
        return None


def _set_window_size(fd: int, size: bytes) -> None:
    import fcntl
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, size)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            return
