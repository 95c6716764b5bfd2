"""Run a developer's command as if unwrapped while keeping a bounded copy of its output.

Where stdout is a terminal the command writes to a pseudo-terminal, so colours, progress bars and
isatty() checks behave as usual; its stdin stays the real terminal (prompts, pdb and pagers keep working).
Otherwise plain pipes. Every byte is forwarded unchanged; the recorded copy keeps the first and last part
(memory stays bounded for a 50 MB output), is decoded as UTF-8 with replacement, and says what it changed.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024 - 4096  # just under the server's 1 MiB cap, which never trims us
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")


class CappedOutput:
    """Keeps the head and the tail of a byte stream; counts everything."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_OUTPUT_BYTES) -> None:
        self.max_bytes = max_bytes
        self.head_limit = max_bytes // 2
        self.tail_limit = max_bytes - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.valid_utf8 = True

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.valid_utf8:
            try:
                self._decoder.decode(data)
            except UnicodeDecodeError:
                self.valid_utf8 = False
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail.append(data)
            self.tail_size += len(data)
            while self.tail and self.tail_size - len(self.tail[0]) >= self.tail_limit:
                self.tail_size -= len(self.tail.popleft())

    def finish(self) -> dict[str, Any]:
        """The output text and the flags that describe how it differs from the raw bytes."""
        if self.valid_utf8:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.valid_utf8 = False
        tail = b"".join(self.tail)
        truncated = self.total > len(self.head) + len(tail) or len(tail) > self.tail_limit
        info: dict[str, Any] = {}
        if truncated:
            tail = tail[-self.tail_limit :]
            omitted = self.total - len(self.head) - len(tail)
            head_text = _clean(bytes(self.head), cut_end=True)
            tail_text = _clean(tail, cut_start=True)
            marker = f"\n[... bugtrail: {omitted} bytes of output omitted ...]\n"
            text = _fit(head_text, self.head_limit) + marker + _fit(tail_text, self.tail_limit, from_end=True)
            info.update(output_truncated=True)
        else:
            text = _clean(bytes(self.head) + tail)
        info["output_original_bytes"] = self.total
        if not self.valid_utf8:
            info["output_encoding"] = "non-utf-8, decoded with replacement characters"
        stripped = ANSI_RE.sub("", text)
        if stripped != text:
            info["ansi_stripped"] = True
        info["output"] = stripped
        return info


def _clean(data: bytes, cut_start: bool = False, cut_end: bool = False) -> str:
    # Cutting mid-character at a truncation point is ours, not the program's: drop the partial bytes.
    if cut_start:
        while data and (data[0] & 0xC0) == 0x80:
            data = data[1:]
    if cut_end:
        i = len(data) - 1
        while i >= max(0, len(data) - 4) and data[i] & 0xC0 == 0x80:
            i -= 1
        if i >= 0 and data[i] >= 0xC0:
            needed = 4 if data[i] >= 0xF0 else 3 if data[i] >= 0xE0 else 2
            if len(data) - i < needed:
                data = data[:i]
    return data.decode("utf-8", "replace")


def _fit(text: str, limit: int, from_end: bool = False) -> str:
    """Trim to `limit` UTF-8 bytes (replacement characters take 3 bytes each)."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    part = encoded[-limit:] if from_end else encoded[:limit]
    return part.decode("utf-8", "ignore")


@dataclass
class CommandResult:
    exit_code: int
    duration_ms: int
    started_at: str
    details: dict[str, Any] = field(default_factory=dict)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        except OSError:
            return  # our own stdout went away (closed pipe): keep capturing, stop forwarding
        view = view[written:]


def run_command(
    argv: Sequence[str] | str,
    *,
    cwd: str | None = None,
    shell: bool = False,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    use_pty: bool | None = None,
) -> CommandResult:
    out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    use_pty = os.isatty(out_fd) if use_pty is None else use_pty
    capture = CappedOutput(max_output_bytes)
    started_at = datetime.now(UTC).isoformat(timespec="microseconds")
    start = time.monotonic()
    # Sources we read from -> where their bytes go.
    routes: dict[int, int] = {}
    child_ends: list[int] = []
    if use_pty:
        master, slave = os.openpty()
        _prepare_pty(slave, out_fd)
        _PTY[0] = master
        stdout_target, routes[master] = slave, out_fd
        child_ends.append(slave)
        if os.isatty(err_fd):
            stderr_target = slave
        else:
            err_read, stderr_target = os.pipe()
            routes[err_read] = err_fd
            child_ends.append(stderr_target)
    else:
        out_read, stdout_target = os.pipe()
        err_read, stderr_target = os.pipe()
        routes[out_read], routes[err_read] = out_fd, err_fd
        child_ends += [stdout_target, stderr_target]

    previous = _forward_signals()
    try:
        try:
            proc = subprocess.Popen(
                argv, cwd=cwd, shell=shell, stdout=stdout_target, stderr=stderr_target, close_fds=True
            )
        except OSError as exc:
            for fd in [*child_ends, *routes]:
                os.close(fd)
            message = f"bugtrail: cannot run {argv if isinstance(argv, str) else argv[0]!r}: {exc.strerror}\n"
            _write_all(err_fd, message.encode())
            capture.feed(message.encode())
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            return CommandResult(code, int((time.monotonic() - start) * 1000), started_at, capture.finish())
        _CHILD[0] = proc
        for fd in child_ends:
            os.close(fd)
        _pump(routes, capture, proc)
        returncode = proc.wait()
    finally:
        _CHILD[0] = None
        _PTY[0] = None
        _restore_signals(previous)
    duration_ms = int((time.monotonic() - start) * 1000)
    details = capture.finish()
    if returncode < 0:
        details["signal"] = -returncode
        returncode = 128 - returncode  # what a shell reports for a command killed by a signal
    return CommandResult(returncode, duration_ms, started_at, details)


def _pump(routes: dict[int, int], capture: CappedOutput, proc: subprocess.Popen[bytes]) -> None:
    selector = selectors.DefaultSelector()
    for fd in routes:
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            ready = selector.select(timeout=0.1)
            for key, _ in ready:
                fd = int(key.fd)
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last writer is gone
                    data = b""
                if not data:
                    selector.unregister(fd)
                    os.close(fd)
                    continue
                _write_all(routes[fd], data)
                capture.feed(data)
            if proc.poll() is not None:
                # A daemon the command left behind may hold the output open; don't wait for it forever.
                if exited_at is None:
                    exited_at = time.monotonic()
                elif not ready and time.monotonic() - exited_at > 0.5:
                    break
    finally:
        for fd in [int(key.fd) for key in selector.get_map().values()]:
            selector.unregister(fd)
            os.close(fd)
        selector.close()


def _prepare_pty(slave: int, out_fd: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(out_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    except OSError:
        pass
    # No output post-processing ("\n" -> "\r\n"): bytes reach our terminal, which does its own, unchanged.
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.OPOST
    termios.tcsetattr(slave, termios.TCSANOW, attrs)


_CHILD: list[subprocess.Popen[bytes] | None] = [None]
_PTY: list[int | None] = [None]
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGWINCH)


def _forward_signals() -> dict[int, Any]:
    """Ctrl-C reaches the command through the terminal; we survive it to record the command's fate."""

    def handler(signum: int, _frame: object) -> None:
        child = _CHILD[0]
        if child is None or child.poll() is not None:
            return
        if signum == signal.SIGWINCH:
            _sync_winsize()
        elif signum not in (signal.SIGINT, signal.SIGQUIT):  # the terminal already sent those to the child
            child.send_signal(signum)

    previous: dict[int, Any] = {}
    for signum in _FORWARDED:
        with contextlib.suppress(ValueError, OSError):  # ValueError: not the main thread
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _sync_winsize() -> None:
    """Our terminal was resized: resize the command's pty too (the command gets SIGWINCH itself)."""
    master = _PTY[0]
    if master is None:
        return
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(sys.stdout.fileno(), termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass
