"""Where the server's CPU goes during a benchmark phase: py-spy samples of the stacks holding the GIL.

Used by `benchmarks/ingest_bench.py --profile DIR`. py-spy (`pip install py-spy`) attaches to the running
`bugtrail serve` (and its worker processes, --subprocesses) and records only stacks that hold the GIL
(--gil), so waiting for a lock, a socket or an fsync is not counted: what remains is CPU spent in
Python. The raw file (collapsed stacks, one per line with its sample count) is kept in DIR for
flamegraph tools; the summary printed is the share of samples in which a function appears anywhere on
the stack (inclusive) and at the top (self).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def available() -> bool:
    return shutil.which("py-spy") is not None


@contextmanager
def recording(pid: int, output: Path, rate: int = 200) -> Iterator[None]:
    """Sample `pid` and its subprocesses while the block runs; the collapsed stacks go to `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--gil", "--nolineno"]
    command += ["--rate", str(rate), "--format", "raw", "--output", str(output)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy needs a moment to attach before the measured work starts
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        _, stderr = process.communicate(timeout=60)
        if process.returncode not in (0, -signal.SIGINT) and not output.exists():
            raise RuntimeError(f"py-spy failed ({process.returncode}): {stderr.decode(errors='replace')}")


# Frames at the base of every stack (process start, event loop, thread pool): left out of the inclusive
# list, where they would only say "100%".
RUNNER_MODULES = (
    "<frozen runpy>",
    "threading.py",
    "typer/",
    "click/",
    "bugtrail/__main__.py",
    "bugtrail/cli/",
    "uvicorn/main.py",
    "uvicorn/server.py",
    "uvicorn/_compat.py",
    "asyncio/runners.py",
    "asyncio/base_events.py",
    "asyncio/events.py",
    "anyio/_backends/",
    "uvloop/",
    "multiprocessing/",
    "uvicorn/_subprocess.py",
    "uvicorn/supervisors/",
)
RUNNER_FRAMES = {"<module> (<string>)"}  # the `python -c` line uvicorn's worker processes start with


def summarize(collapsed: Path, top: int = 40) -> str:
    """Inclusive and self shares of the recorded samples, as text. Frames look like
    `function (package/module.py)`."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    processes: Counter[str] = Counter()  # samples per server process: how evenly the workers share
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        process = ""
        while stack.startswith("process "):  # `process PID:"command line";` per level (may hold ";")
            process = stack.split(":", 1)[0]
            stack = stack[stack.find('";') + 2 :]
        frames = stack.split(";")
        if not frames:
            continue
        total += int(count)
        processes[process] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
        own[frames[-1]] += int(count)
    if not total:
        return "no samples (py-spy saw no stack holding the GIL)"

    def module_of(frame: str) -> str:
        return frame.rpartition("(")[2].rstrip(")")

    kept = [
        (f, n)
        for f, n in inclusive.most_common()
        if not module_of(f).startswith(RUNNER_MODULES) and f not in RUNNER_FRAMES
    ]
    shares = ", ".join(f"{name} {n / total:.0%}" for name, n in processes.most_common())
    lines = [f"{total} samples holding the GIL ({shares}); inclusive (on the stack):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in kept[:top]]
    lines.append("self (top of the stack):")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines)
