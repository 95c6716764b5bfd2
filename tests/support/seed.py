"""Seed traces with events, QA results and reviews straight into the tables (export, dashboard, webhook and
agreement tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bugtrail.db.models import DeveloperConsent, Event, Job, QaResult, Review, Trace
from bugtrail.qa.judge.rubric import RUBRIC_VERSION

BASE_TIME = datetime(2026, 3, 1, 12, 0, 0)

DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
)


def sample_events(i: int) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "reasoning",
            {"text": f"add() subtracts? case {i}", "reasoning_type": "hypothesis", "confidence": "medium"},
        ),
        (
            "command",
            {
                "command": "pytest -q",
                "output": "1 failed\nE assert -1 == 3",
                "exit_code": 1,
                "working_directory": ".",
                "duration_ms": 120,
            },
        ),
        ("edit", {"file": "calc.py", "diff": DIFF, "change": "fix operator"}),
        ("command", {"command": "pytest -q", "output": "1 passed", "exit_code": 0, "working_directory": "."}),
        ("reasoning", {"text": "fixed: + instead of -", "reasoning_type": "outcome", "confidence": "high"}),
    ]


def qa_document(tests_passed: bool | None, resolved: bool | None, score: float | None) -> dict[str, Any]:
    return {
        "outcome": "completed",
        "tests_passed": tests_passed,
        "resolved": resolved,
        "patch_applied": True,
        "fail_to_pass": ["tests/test_calc.py::test_add"],
        "pass_to_pass": ["tests/test_calc.py::test_sub"],
        "failed_after": [] if tests_passed else ["tests/test_calc.py::test_add"],
        "reasoning_score": score,
        "judge_comments": "clear hypothesis, verified by a test run",
        "judge": {
            "judge": "heuristic",
            "criteria": {
                "hypothesis_quality": {"score": 4, "comment": "states a testable cause"},
                "verification": {"score": 5, "comment": "re-ran the failing test"},
            },
        },
        "error": None,
    }


def add_trace(
    session: Session,
    *,
    index: int = 0,
    developer_id: str = "alice",
    repo_url: str = "https://github.com/example/calc",
    status: str = "completed",
    created_at: datetime | None = None,
    tests_passed: bool | None = True,
    resolved: bool | None = True,
    reasoning_score: float | None = 4.0,
    events: list[tuple[str, dict[str, Any]]] | None = None,
    qa: dict[str, Any] | bool | None = True,
    bug_description: str | None = None,
    consent: str | None = "CC-BY-4.0",
    trace_id: str | None = None,
    event_ids: list[str] | None = None,
) -> str:
    """Insert one trace (+events, +newest qa_result unless qa is None/False); returns its trace_id.

    `consent`: unless None, the developer is recorded as having consented to external use under that
    licence (kept as it is if they already have a record), so default exports include the trace.
    `event_ids` (one per event) lets a QA document refer to the events (e.g. checkpoints)."""
    trace_id = trace_id or str(uuid.uuid4())
    if consent is not None and session.get(DeveloperConsent, developer_id) is None:
        add_consent(session, developer_id, consent)
    created = created_at or BASE_TIME + timedelta(minutes=index)
    event_specs = sample_events(index) if events is None else events
    session.add(
        Trace(
            trace_id=trace_id,
            developer_id=developer_id,
            repo_url=repo_url,
            bug_description=bug_description or f"add() returns the wrong result (#{index})",
            base_commit="a" * 40,
            test_command="pytest -q",
            status=status,
            content_hash="0" * 64,
            event_count=len(event_specs),
            created_at=created,
            updated_at=created,
            finalized_at=created + timedelta(minutes=5) if status != "pending" else None,
            tests_passed=tests_passed,
            resolved=resolved,
            reasoning_score=reasoning_score,
        )
    )
    session.flush()
    rows = []
    for seq, (event_type, details) in enumerate(event_specs):
        ts = created + timedelta(seconds=seq)
        rows.append(
            {
                "trace_id": trace_id,
                "event_id": event_ids[seq] if event_ids else str(uuid.uuid4()),
                "seq": seq,
                "event_type": event_type,
                "event_timestamp": (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat(),
                "ts_utc": ts,
                "details": details,
                "content_hash": "0" * 64,
                "redactions": 0,
                "received_at": ts,
            }
        )
    if rows:
        session.execute(insert(Event), rows)
    if qa:
        document = qa if isinstance(qa, dict) else qa_document(tests_passed, resolved, reasoning_score)
        result = QaResult(
            trace_id=trace_id,
            outcome=document.get("outcome", "completed"),
            tests_passed=tests_passed,
            resolved=resolved,
            reasoning_score=reasoning_score,
            judge_comments=document.get("judge_comments"),
            error=document.get("error"),
            qa_timestamp=created + timedelta(minutes=6),
            result=document,
        )
        session.add(result)
        session.flush()
        trace = session.get(Trace, trace_id)
        assert trace is not None
        trace.latest_qa_result_id = result.id
    session.flush()
    return trace_id


def add_error_trace(session: Session, *, index: int, error_kind: str, error: str, **qa: Any) -> str:
    """A failed trace whose newest QA result is an error of `error_kind`: no verdict on the fix."""
    document = {"schema": 2, "outcome": "error", "error_kind": error_kind, "error": error, **qa}
    return add_trace(session, index=index, status="failed", tests_passed=None, resolved=None, qa=document)


def add_job(
    session: Session,
    trace_id: str,
    state: str = "queued",
    created_at: datetime | None = None,
    last_error: str | None = None,
) -> None:
    session.add(
        Job(
            trace_id=trace_id,
            state=state,
            created_at=created_at or BASE_TIME,
            run_after=BASE_TIME,
            last_error=last_error,
        )
    )
    session.flush()


def add_consent(
    session: Session,
    developer_id: str,
    licence: str = "CC-BY-4.0",
    *,
    external_use: bool = True,
    given_at: datetime | None = BASE_TIME,
) -> None:
    """Record (or replace) a developer's consent straight into the table."""
    row = session.get(DeveloperConsent, developer_id) or DeveloperConsent(developer_id=developer_id)
    row.licence, row.external_use, row.consent_given_at = licence, external_use, given_at
    row.updated_by = "seed"
    session.add(row)
    session.flush()


CRITERIA_NAMES = (
    "hypothesis_quality",
    "alternatives_considered",
    "change_rationale",
    "learning_from_failures",
    "consistency",
)


def add_review(
    session: Session,
    trace_id: str,
    reviewer_id: str,
    criteria: dict[str, int],
    overall: float,
    *,
    decision: str = "accept",
    created_at: datetime | None = None,
    supersedes_id: int | None = None,
    rubric_version: str = RUBRIC_VERSION,
) -> int:
    """Insert one submitted review row as the reviews domain stores it; returns its id."""
    row = Review(
        trace_id=trace_id,
        reviewer_id=reviewer_id,
        criteria=dict(criteria),
        overall=overall,
        decision=decision,
        reason=f"{decision}: seeded review",
        feedback=None,
        event_marks=[],
        rubric_version=rubric_version,
        supersedes_id=supersedes_id,
        created_at=created_at or BASE_TIME,
    )
    session.add(row)
    session.flush()
    return int(row.id)


def judged_document(
    criteria: dict[str, int],
    score: float,
    *,
    judge: str = "heuristic",
    model: str | None = None,
    rubric_version: str = RUBRIC_VERSION,
    tests_passed: bool = True,
) -> dict[str, Any]:
    """A completed QA document whose judge record has these scores (a JudgeRecord's fields)."""
    document = qa_document(tests_passed, tests_passed, score)
    document["judge"] = {
        "judge": judge,
        "model": model,
        "rubric_version": rubric_version,
        "criteria": dict(criteria),
        "reasoning_score": score,
        "judge_comments": "seeded judge record",
        "flags": [],
        "error": None,
    }
    return document
