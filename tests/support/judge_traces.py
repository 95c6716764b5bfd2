"""Traces for the judge tests: hand-written files in tests/data/judge_traces/ and a generated day-long one."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bugtrail.wire import EventRead, TraceRead

TRACE_DIR = Path(__file__).resolve().parents[1] / "data" / "judge_traces"
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def trace_from_events(
    events: list[dict[str, Any]],
    bug_description: str = "Applying the same discount code twice lowers the cart total twice.",
    repo_url: str = "https://github.com/example/shopcart",
) -> TraceRead:
    """A TraceRead as the server would return it; missing timestamps are filled in one minute apart."""
    reads = [
        EventRead(
            event_id=uuid.UUID(e["event_id"]) if "event_id" in e else uuid.uuid4(),
            seq=i + 1,
            type=e["type"],
            timestamp=datetime.fromisoformat(e["timestamp"])
            if "timestamp" in e
            else START + timedelta(minutes=i),
            details=e["details"],
        )
        for i, e in enumerate(events)
    ]
    now = START + timedelta(minutes=len(reads))
    return TraceRead(
        trace_id=uuid.uuid4(),
        developer_id="dev-judge-tests",
        repo_url=repo_url,
        bug_description=bug_description,
        status="completed",
        event_count=len(reads),
        created_at=START,
        updated_at=now,
        finalized_at=now,
        events=reads,
    )


def load_trace(name: str) -> tuple[dict[str, Any], TraceRead]:
    data = json.loads((TRACE_DIR / name).read_text())
    trace = trace_from_events(data["events"], data["bug_description"], data["repo_url"])
    return data, trace


def ranked_traces() -> list[tuple[int, str, TraceRead]]:
    """(rank, file name, trace) for every ranked file, ordered by expected rank."""
    found = []
    for path in sorted(TRACE_DIR.glob("*.json")):
        data, trace = load_trace(path.name)
        if "rank" in data:
            found.append((int(data["rank"]), path.name, trace))
    return sorted(found, key=lambda item: item[0])


def day_long_trace(events: int = 5000, big_output_every: int = 250) -> TraceRead:
    """A synthetic day of debugging: mostly commands with long outputs, edits with long diffs, some notes.

    With the defaults: 5000 events and about 12 MB of command output and diffs.
    """
    rows: list[dict[str, Any]] = []
    for i in range(events):
        ts = (START + timedelta(seconds=17 * i)).isoformat()
        kind = i % 10
        if kind in (0, 5):
            rows.append(
                {
                    "type": "reasoning",
                    "timestamp": ts,
                    "details": {
                        "text": f"Step {i}: the failure in module_{i % 37}.handle_{i % 11} suggests the "
                        f"cache key omits the tenant id; checking whether clear_cache_{i % 5} runs first.",
                        "reasoning_type": "hypothesis" if kind == 0 else "observation",
                        "confidence": "medium",
                    },
                }
            )
        elif kind in (3, 8):
            body = "".join(f"+    value_{j} = compute_{j}(tenant, key)  # line {j}\n" for j in range(60))
            rows.append(
                {
                    "type": "edit",
                    "timestamp": ts,
                    "details": {
                        "file": f"src/app/module_{i % 37}.py",
                        "diff": f"--- a/src/app/module_{i % 37}.py\n+++ b/src/app/module_{i % 37}.py\n"
                        f"@@ -1,3 +1,63 @@ def handle_{i % 11}(tenant, key):\n{body}",
                    },
                }
            )
        else:
            size = 500_000 if i % big_output_every == 1 else 1_500
            line = f"tests/test_module_{i % 37}.py::test_case PASSED [ {i % 100}%] some log text here\n"
            output = (line * (size // len(line) + 1))[:size]
            failed = i % 7 == 0
            if failed:
                output += "\nFAILED tests/test_module.py::test_tenant - AssertionError\n1 failed, 99 passed"
            rows.append(
                {
                    "type": "command",
                    "timestamp": ts,
                    "details": {
                        "command": "python -m pytest -q -x",
                        "output": output,
                        "exit_code": int(failed),
                    },
                }
            )
    return trace_from_events(rows, bug_description="Cache returns another tenant's data under load.")
