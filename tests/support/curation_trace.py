"""A realistic debugging session with known curation numbers (unit and API tests share it).

Idle 20 minutes between the `git diff` and the next test run; that run itself lasts 15 minutes (its
duration counts as active). Python and TypeScript files are edited; three commands run tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

TEST_COMMAND = "python -m pytest -q tests/test_calc.py"
START = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone(timedelta(hours=2)))

CALC_DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
)
TEST_DIFF = (
    "--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -3,0 +4,3 @@\n"
    "+\n+def test_add_negative():\n+    assert add(-1, -2) == -3\n"
)
TS_DIFF = (
    "diff --git a/web/app.ts b/web/app.ts\n--- a/web/app.ts\n+++ b/web/app.ts\n@@ -10,2 +10,3 @@\n"
    " const total = sum(items);\n-render(total);\n+render(total);\n+log(total);\n"
)

# (seconds after START, type, details)
EVENTS: list[tuple[float, str, dict[str, Any]]] = [
    (0, "reasoning", {"text": "add() subtracts?", "reasoning_type": "hypothesis"}),
    (30, "command", {"command": TEST_COMMAND, "output": "1 failed", "exit_code": 1, "duration_ms": 2000}),
    (60, "reasoning", {"text": "the test fails on add", "reasoning_type": "observation"}),
    (90, "edit", {"file": "calc.py", "diff": CALC_DIFF}),
    (100, "edit", {"file": "tests/test_calc.py", "diff": TEST_DIFF}),
    (130, "command", {"command": "git diff", "output": "...", "exit_code": 0, "duration_ms": 100}),
    (
        1330,
        "command",
        {"command": "PYTHONPATH=. pytest tests -k add", "exit_code": 0, "duration_ms": 900_000},
    ),
    (2290, "reasoning", {"text": "fixed", "reasoning_type": "outcome", "confidence": "high"}),
    (
        2300,
        "command",
        {"command": "make check", "output": "lint failed", "exit_code": 2, "duration_ms": 5000},
    ),
    (2310, "edit", {"file": "web/app.ts", "diff": TS_DIFF}),
    (2320, "reasoning", {"text": "next: the web total", "reasoning_type": "plan"}),
]

EXPECTED: dict[str, Any] = {
    "version": 1,
    "time_on_task_s": 2320.0,
    # 30+30+30+10+30 + 0.1 (the git diff ran, then 20 idle minutes left out) + 960 (15-minute test run,
    # then a minute) + 10+10+10
    "active_time_s": 1120.1,
    "active_gap_s": 300.0,
    "events": 11,
    "edits": 3,
    "commands": 4,
    "failed_commands": 2,
    "test_runs": 3,
    "test_runs_failed": 2,
    "notes": {"hypothesis": 1, "alternative": 0, "rationale": 0, "observation": 1, "outcome": 1, "plan": 1},
    "files_touched": 3,
    "files": ["calc.py", "tests/test_calc.py", "web/app.ts"],
    "lines_added": 6,
    "lines_removed": 2,
    "lines_touched": 8,
    "binary_edits": 0,
    "languages": ["Python", "TypeScript"],
    "out_of_order_events": 0,
}


def timestamp(offset_s: float) -> datetime:
    return START + timedelta(seconds=offset_s)


def api_events() -> list[dict[str, Any]]:
    """The events as POST /api/traces takes them (timestamps with their +02:00 offset)."""
    return [
        {"type": kind, "timestamp": timestamp(offset).isoformat(), "details": details}
        for offset, kind, details in EVENTS
    ]
