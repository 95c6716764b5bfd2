"""Step-level test labels (pure): which recorded test runs become checkpoints, and their grades from logs.

A checkpoint is a command event of the trace that ran the tests: its command, whitespace collapsed, is the
test command QA uses (possibly with more arguments), or it runs pytest (`pytest`, `py.test`, `-m pytest`).
QA rebuilds the work tree as it was then (base_commit plus the edits recorded before that event), runs
QA's own test command in the environment of the main runs and grades the per-test outcomes. With more
test runs than BUGTRAIL_QA_CHECKPOINTS, evenly spaced ones are chosen, always the first and the last.

Logs (fixed names, so grading is a pure function of them, like qa.grading.grade_logs):
  <log_dir>/checkpoints/index.json      [{name, event_id, seq, edits, patch_applied}] in event order
  <log_dir>/checkpoints/<name>/{test_output.txt,junit.xml,run.json}   (name: cp-01, cp-02, ...)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bugtrail.qa.grading import ERROR, FAILED, PASSED, load_phase
from bugtrail.wire import EventRead

CHECKPOINTS_DIR = "checkpoints"
INDEX_FILE = "index.json"
_PYTEST = re.compile(r"(?:^|[\s/])(?:pytest|py\.test)(?:$|\s)|-m\s+pytest(?:$|\s)")


@dataclass(frozen=True)
class RecordedRun:
    position: int  # index among the trace's events: edits before it shape the tree
    event_id: str
    seq: int


def is_test_run(command: str, test_command: str) -> bool:
    ran, wanted = " ".join(command.split()), " ".join(test_command.split())
    if wanted and (ran == wanted or ran.startswith(wanted + " ")):
        return True
    return bool(_PYTEST.search(ran))


def recorded_test_runs(events: list[EventRead], test_command: str) -> list[RecordedRun]:
    return [
        RecordedRun(position, str(event.event_id), event.seq)
        for position, event in enumerate(events)
        if event.type == "command" and is_test_run(str(event.details.get("command") or ""), test_command)
    ]


def choose(runs: list[RecordedRun], limit: int) -> list[RecordedRun]:
    """At most `limit` runs, evenly spaced over the session: the last always, the first when limit > 1."""
    if limit <= 0 or not runs:
        return []
    if len(runs) <= limit:
        return list(runs)
    if limit == 1:
        return [runs[-1]]
    picked = sorted({round(i * (len(runs) - 1) / (limit - 1)) for i in range(limit)})
    return [runs[i] for i in picked]


def checkpoint_name(number: int) -> str:
    return f"cp-{number:02d}"


def grade_checkpoints(log_dir: Path, fail_to_pass: list[str]) -> list[dict[str, Any]]:
    """Each checkpoint's outcome from its saved logs: `passed` and `failed` are sorted lists of test ids
    (failed includes errors; skipped tests are in neither; a command without per-test outcomes is one
    pseudo-test named after it, graded by exit code); `fail_to_pass_done` is true when every
    fail-to-pass test of the main verdict passes there (null when the verdict has none, or when the
    checkpoint's edits did not apply and its tests were not run)."""
    root = log_dir / CHECKPOINTS_DIR
    try:
        index = json.loads((root / INDEX_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return []
    graded = []
    for entry in index:
        run_dir = root / str(entry["name"])
        point: dict[str, Any] = {
            "event_id": entry["event_id"],
            "seq": entry["seq"],
            "edits": entry.get("edits", 0),
            "patch_applied": entry.get("patch_applied"),
            "passed": [],
            "failed": [],
            "fail_to_pass_done": None,
            "exit_code": None,
        }
        if entry.get("patch_applied") and (run_dir / "run.json").is_file():
            phase = load_phase(run_dir)
            tests = phase.tests
            if tests is None:  # not pytest: one pseudo-test named after the command, as qa.grading does
                ok = phase.exit_code == 0 and not phase.timed_out
                tests = {phase.command or "test command": PASSED if ok else FAILED}
            point["exit_code"] = phase.exit_code
            point["timed_out"] = phase.timed_out
            point["passed"] = sorted(test for test, outcome in tests.items() if outcome == PASSED)
            point["failed"] = sorted(test for test, outcome in tests.items() if outcome in (FAILED, ERROR))
            point["collection_errors"] = sorted(phase.collection_errors)
            if fail_to_pass:
                passed = set(point["passed"])
                point["fail_to_pass_done"] = all(test in passed for test in fail_to_pass)
        graded.append(point)
    return graded
