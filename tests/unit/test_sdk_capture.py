from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bugtrail.sdk.capture import CappedOutput

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_small_output_is_kept_whole() -> None:
    capture = CappedOutput(1000)
    for part in (b"hello ", "wörld\n".encode()):
        capture.feed(part)
    assert capture.finish() == {"output": "hello wörld\n", "output_original_bytes": 13}


def test_large_output_keeps_head_and_tail_in_bounded_memory() -> None:
    capture = CappedOutput(1000)
    capture.feed(b"HEAD\n")
    for _ in range(10_000):
        capture.feed(b"x" * 1000)
        assert len(capture.head) + capture.tail_size <= 1000 + 1000 + 1000  # never grows with the input
    capture.feed(b"\nTAIL\n")
    info = capture.finish()
    assert info["output_truncated"] is True and info["output_original_bytes"] == 10_000_011
    assert info["output"].startswith("HEAD\n") and info["output"].endswith("\nTAIL\n")
    assert "bytes of output omitted" in info["output"]
    assert len(info["output"].encode()) <= 1000 + 100


def test_cut_points_do_not_invent_encoding_errors() -> None:
    capture = CappedOutput(101)  # the cut falls inside a two-byte character
    capture.feed("é".encode() * 500)
    info = capture.finish()
    assert "\ufffd" not in info["output"] and "output_encoding" not in info


def test_invalid_utf8_is_replaced_and_flagged_and_ansi_stripped() -> None:
    capture = CappedOutput(1000)
    capture.feed(b"caf\xe9 \x1b[1;31mFAILED\x1b[0m \x1b]0;title\x07done\n")
    info = capture.finish()
    assert info["output"] == "caf\ufffd FAILED done\n"
    assert info["output_encoding"].startswith("non-utf-8") and info["ansi_stripped"] is True


RUN = """
import sys
from bugtrail.sdk.capture import run_command
result = run_command(sys.argv[2:], use_pty=sys.argv[1] == "pty")
sys.stderr.write(repr((result.exit_code, result.details)) + "\\n")
"""


def run_wrapped(mode: str, *argv: str) -> tuple[bytes, tuple]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN, mode, *argv], env={"PYTHONPATH": SRC}, capture_output=True, timeout=60
    )
    *_, last = proc.stderr.decode().strip().splitlines()
    return proc.stdout, eval(last)  # the repr printed by RUN


def test_pipes_forward_bytes_unchanged_and_pass_exit_codes() -> None:
    out, (code, details) = run_wrapped(
        "pipe", sys.executable, "-c", "import sys; print('out'); sys.stderr.write('err\\n'); sys.exit(5)"
    )
    assert out == b"out\n" and code == 5
    assert sorted(details["output"].splitlines()) == ["err", "out"]


def test_pty_mode_gives_the_command_a_terminal() -> None:
    out, (code, details) = run_wrapped(
        "pty", sys.executable, "-c", "import os; print(os.isatty(1), os.isatty(2))"
    )
    assert code == 0 and out == b"True False\n"  # stderr of the wrapper is a pipe here: it stays one
    assert details["output"] == "True False\n"  # no "\r\n" from the pty's output processing


def test_signals_and_missing_commands_are_reported_like_a_shell() -> None:
    _, (code, details) = run_wrapped(
        "pipe", sys.executable, "-c", "import os, signal; os.kill(os.getpid(), 9)"
    )
    assert code == 137 and details["signal"] == 9
    _, (code, details) = run_wrapped("pipe", "no-such-command-xyz")
    assert code == 127 and "cannot run" in details["output"]
