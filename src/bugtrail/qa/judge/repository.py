"""SQL for storing a re-judged record: the newest qa_result's judge fields and the trace's denormalised score.

Flushes only; the caller owns the transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import QaResult, Trace, utcnow
from bugtrail.qa.result import QaResult as QaResultDocument

JUDGED_ONLY = "judged_only"  # outcome of a qa_result made by `bugtrail judge` when QA never ran
PREVIOUS_JUDGES_KEPT = 5


def newest_qa_result(session: Session, trace: Trace) -> QaResult | None:
    if trace.latest_qa_result_id is not None:
        row = session.get(QaResult, trace.latest_qa_result_id)
        if row is not None:
            return row
    return session.scalar(
        select(QaResult).where(QaResult.trace_id == trace.trace_id).order_by(QaResult.id.desc()).limit(1)
    )


def _previous(judge: Any) -> dict[str, Any] | None:
    if not isinstance(judge, dict):
        return None
    keys = ("judge", "model", "rubric_version", "reasoning_score", "judged_at", "error")
    return {k: judge.get(k) for k in keys}


def store_judge_record(session: Session, trace: Trace, record: dict[str, Any]) -> tuple[QaResult, bool]:
    """Put `record` (JudgeRecord JSON) on the trace's newest qa_result, or on a new `judged_only` one.

    Returns (row, created). The replaced judge record is summarised in result["previous_judges"].
    """
    score, comments = record.get("reasoning_score"), record.get("judge_comments")
    row = newest_qa_result(session, trace)
    created = row is None
    if row is None:
        document = QaResultDocument(outcome=JUDGED_ONLY).document()
        row = QaResult(trace_id=trace.trace_id, job_id=None, outcome=JUDGED_ONLY, result=document)
        session.add(row)
        session.flush()
    # Through the model: a schema-1 row is upgraded as it is rewritten.
    document = QaResultDocument.model_validate(row.result or {"outcome": row.outcome}).document()
    previous = [p for p in [_previous(document.get("judge"))] if p] + list(
        document.get("previous_judges") or []
    )
    document.update(
        {
            "reasoning_score": score,
            "judge_comments": comments,
            "judge": record,
            "previous_judges": previous[:PREVIOUS_JUDGES_KEPT],
            "rejudged_at": record.get("judged_at"),
            "qa_result_id": row.id,
        }
    )
    row.result = document  # a new dict, so the JSON column is written
    row.reasoning_score = score
    row.judge_comments = comments
    if created:
        row.qa_timestamp = utcnow()
    session.execute(
        update(Trace)
        .where(Trace.trace_id == trace.trace_id)
        .values(reasoning_score=score, latest_qa_result_id=row.id, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return row, created
