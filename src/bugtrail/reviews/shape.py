"""Review rows (ORM objects or Core rows with the model's attribute names) as wire.ReviewRead."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from bugtrail.reviews.visibility import View
from bugtrail.wire import EventMark, ReviewRead


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # exports may read JSON as text


def _mark(stored: dict[str, Any]) -> EventMark:
    # Validated when submitted; constructing without re-validating keeps exports fast.
    return EventMark.model_construct(
        event_id=uuid.UUID(str(stored["event_id"])), label=stored["label"], comment=stored.get("comment")
    )


def review_read(row: Any, label: str, current: bool, anonymous: bool) -> ReviewRead:
    return ReviewRead(
        id=row.id,
        trace_id=uuid.UUID(str(row.trace_id)),
        reviewer_id=None if anonymous else row.reviewer_id,
        reviewer_label=label,
        criteria=dict(_json(row.criteria) or {}),
        overall=row.overall,
        decision=row.decision,
        reason=row.reason,
        feedback=row.feedback,
        event_marks=[_mark(mark) for mark in _json(row.event_marks) or []],
        rubric_version=row.rubric_version,
        supersedes_id=row.supersedes_id,
        current=current,
        created_at=row.created_at,
    )


def labels(rows: Sequence[Any]) -> dict[str, str]:
    """reviewer_id -> "reviewer N", numbered in the order of each reviewer's first review of the trace."""
    named: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: r.id):
        named.setdefault(row.reviewer_id, f"reviewer {len(named) + 1}")
    return named


def trace_reviews(rows: Sequence[Any], view: View) -> list[ReviewRead] | None:
    """All reviews of one trace (every row of it), oldest first, as `view` may see them (blind: None)."""
    if view == "blind":
        return None
    superseded = {row.supersedes_id for row in rows if row.supersedes_id is not None}
    names = labels(rows)
    return [
        review_read(row, names[row.reviewer_id], row.id not in superseded, anonymous=view == "developer")
        for row in sorted(rows, key=lambda r: r.id)
    ]
