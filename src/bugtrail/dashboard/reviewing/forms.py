"""The review form as posted by the dashboard, turned into a ReviewCreate (or errors per field).

Field names: `criteria.<name>` (1-5), `overall`, `decision`, `reason`, `feedback`, and per event
`mark.<event_id>` (a label; empty = no mark) with `mark_comment.<event_id>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from bugtrail.qa.judge.record import CRITERIA
from bugtrail.reviews.schemas import ReviewCreate

MARK_LABELS = ("wrong", "unrelated", "misleading", "insightful", "other")


@dataclass
class ParsedForm:
    values: dict[str, Any]  # what was entered, to fill the form again after an error
    review: ReviewCreate | None = None
    errors: dict[str, str] = field(default_factory=dict)  # field -> message


def _score(raw: str) -> Any:
    return int(raw) if raw.isdigit() and len(raw) == 1 else raw  # anything else: the schema says why


def _number(raw: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        return raw


def _location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else ("." if parts else "") + str(item))
    return "".join(parts) or "form"


def parse(form: Mapping[str, str]) -> ParsedForm:
    criteria = {name: form.get(f"criteria.{name}", "") for name in CRITERIA}
    marks = []
    for key, label in form.items():
        if key.startswith("mark.") and label:
            event_id = key.removeprefix("mark.")
            marks.append(
                {
                    "event_id": event_id,
                    "label": label,
                    "comment": form.get(f"mark_comment.{event_id}") or None,
                }
            )
    values: dict[str, Any] = {
        "criteria": criteria,
        "overall": form.get("overall", ""),
        "decision": form.get("decision", ""),
        "reason": form.get("reason", ""),
        "feedback": form.get("feedback", ""),
        "marks": {mark["event_id"]: mark for mark in marks},
    }
    payload = {
        "criteria": {name: _score(raw) for name, raw in criteria.items() if raw},
        "overall": _number(values["overall"]) if values["overall"] else None,
        "decision": values["decision"] or None,
        "reason": values["reason"],
        "feedback": values["feedback"] or None,
        "event_marks": marks,
    }
    try:
        return ParsedForm(values, ReviewCreate.model_validate(payload))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors(include_url=False):
            errors.setdefault(_location(tuple(error["loc"])), error["msg"].removeprefix("Value error, "))
        return ParsedForm(values, errors=errors)
