"""For the QA benchmarks: a CPU-bound test suite, the trace that fixes add(), and the bare host trees.

A benchmark compares a QA run with the same two pytest runs on the host; these build both sides alike.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bugtrail.wire import TraceRead
from tests.support.buggy_repo import edits_trace
from tests.support.repos import git

ADD_TEST = "\n\ndef test_add():\n    assert add(2, 3) == 5\n"


def burn_suite(count: int, work_ms: int, imports: str, check: str = "burn() > 0") -> str:
    """A test module of `count` tests that each busy-loop `work_ms` of CPU (not sleeps: a container's CPU
    limit must show in the figures); `imports` brings `add` and whatever `check` uses."""
    burn = (
        f"def burn(ms={work_ms}):\n    end = time.process_time() + ms / 1000\n    x = 0\n"
        "    while time.process_time() < end:\n        x += 1\n    return x\n"
    )
    tests = "".join(f"\n\ndef test_slow_{i}():\n    assert {check}\n" for i in range(count))
    return f"import time\n\n{imports}\n\n\n{burn}{tests}"


def fix_trace(url: str, commit: str, suite: tuple[str, str], source: tuple[str, str, str]) -> TraceRead:
    """The trace QA replays: add a failing test_add to the suite (file, text), then fix the source
    (file, old, new)."""
    suite_file, tests = suite
    edits = [(suite_file, tests, tests + ADD_TEST), source]
    trace: TraceRead = edits_trace(url, commit, edits, datetime(2026, 11, 30, 9, tzinfo=UTC))
    return trace


def bare_trees(origin: Path, commit: str, trace: TraceRead, scratch: Path) -> list[Path]:
    """The trace's two trees on the host, as QA builds them: before (test edits only), after (all edits)."""
    trees = []
    for phase in ("before", "after"):
        tree = scratch / phase
        subprocess.run(["git", "clone", "-q", "--shared", str(origin), str(tree)], check=True)
        git(tree, "checkout", "-q", commit)
        for event in trace.events:
            if phase == "after" or event.details["file"].startswith("tests/"):
                subprocess.run(
                    ["git", "apply", "-"], cwd=tree, input=event.details["diff"], text=True, check=True
                )
        trees.append(tree)
    return trees
