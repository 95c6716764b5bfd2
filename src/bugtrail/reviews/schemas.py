"""What a reviewer submits (ReviewCreate) and what the review routes answer.

The rubric is the judge's: the five criteria of bugtrail.qa.judge CRITERIA, each an integer 1-5 (all
required, nothing else accepted), plus an overall 1.0-5.0. Text fields have size limits and may not carry
control characters (PostgreSQL cannot store NUL), so a bad review is refused whole, naming the field.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, create_model

from bugtrail.qa.judge.record import CRITERIA
from bugtrail.wire import ReviewDecision, ReviewRead

MAX_REASON_CHARS = 4_000
MAX_FEEDBACK_CHARS = 20_000
MAX_MARKS = 500
MAX_LABEL_CHARS = 64
MAX_MARK_COMMENT_CHARS = 4_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and carriage return are text


def _text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or only whitespace")
    return _text(value)


def _label(value: str) -> str:
    value = _non_blank(value).strip()
    if "\n" in value or "\r" in value or "\t" in value:
        raise ValueError("must be one line")
    return value


def _overall(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Score = Annotated[int, Field(strict=True, ge=1, le=5, description="1 (poor) to 5 (excellent)")]
Reason = Annotated[str, StringConstraints(max_length=MAX_REASON_CHARS), AfterValidator(_non_blank)]
Feedback = Annotated[str, StringConstraints(max_length=MAX_FEEDBACK_CHARS), AfterValidator(_text)]
Label = Annotated[str, StringConstraints(max_length=MAX_LABEL_CHARS), AfterValidator(_label)]
MarkComment = Annotated[str, StringConstraints(max_length=MAX_MARK_COMMENT_CHARS), AfterValidator(_text)]

# One required strict integer field per judge criterion: a missing one is named (criteria.consistency),
# an unknown one refused, and the rubric stays the judge's when its criteria change.
Criteria: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Criteria",
    __config__=ConfigDict(extra="forbid"),
    **{name: (Score, ...) for name in CRITERIA},
)


class EventMarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(description="an event of the reviewed trace")
    label: Label = Field(description="short tag, e.g. wrong, unrelated, misleading, insightful")
    comment: MarkComment | None = None


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: Criteria
    overall: Annotated[float, Field(strict=True, ge=1.0, le=5.0), AfterValidator(_overall)]
    decision: ReviewDecision
    reason: Reason = Field(description="why this decision (shown to the developer)")
    feedback: Feedback | None = Field(default=None, description="free text for the developer")
    event_marks: list[EventMarkIn] = Field(default_factory=list, max_length=MAX_MARKS)

    def criteria_scores(self) -> dict[str, int]:
        return {name: int(getattr(self.criteria, name)) for name in CRITERIA}


class ReviewList(BaseModel):
    items: list[ReviewRead]
    next_cursor: str | None = Field(default=None, description="pass as cursor for the next (older) page")


class QueueTake(BaseModel):
    """What the queue hands a reviewer: one trace reserved for them until lease_expires_at, or none."""

    trace_id: uuid.UUID | None = Field(description="null when nothing is waiting for this reviewer")
    lease_expires_at: datetime | None = None
    reviews_required: int | None = Field(default=None, description="1, or 2 for a double-reviewed trace")
    reviews_done: int | None = Field(default=None, description="independent reviews submitted so far")
    priority: str | None = Field(
        default=None, description="why it came first: judge_verdict_disagreement, or oldest"
    )
    renewed: bool = Field(
        default=False, description="true when this is the trace already held (lease renewed)"
    )
    waiting: int = Field(
        description="other traces still waiting for this reviewer after this one (counted up to 1000)"
    )
