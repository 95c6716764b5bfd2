"""A trace with no reasoning text gets the lowest score, with the reason, and no model is called."""

from __future__ import annotations

from typing import Literal

from bugtrail.qa.judge.record import CRITERIA, FLAG_NO_REASONING, JudgeRecord
from bugtrail.qa.judge.rubric import RUBRIC_VERSION
from bugtrail.qa.judge.trace_view import TraceView


def has_reasoning(view: TraceView) -> bool:
    return any(step.text.strip() for step in view.notes)


def no_reasoning_record(judge: Literal["openai", "heuristic"], view: TraceView) -> JudgeRecord:
    notes = len(view.notes)
    why = (
        "The trace has no reasoning events"
        if notes == 0
        else f"The trace's {notes} reasoning events are all empty"
    )
    return JudgeRecord(
        judge=judge,
        model=None,
        rubric_version=RUBRIC_VERSION,
        criteria={name: 1 for name in CRITERIA},
        reasoning_score=1.0,
        evidence_score=1.0,
        judge_comments=(
            f"{why} ({len(view.edits)} edits, {len(view.commands)} commands), so there is no reasoning to "
            "judge: every criterion gets the lowest score. No model was called."
        ),
        flags=[FLAG_NO_REASONING],
    )
