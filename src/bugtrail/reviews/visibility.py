"""The blind rule: who sees a trace's judge score and its human reviews.

Until a reviewer has submitted their own review of a trace they see no other review of it and no judge
score (reasoning_score, judge, judge_comments and the rest of the judge's record), so their review is
independent. Admins are never blind. A trace's developer sees the reviews of their own trace, with the
reviewers named only "reviewer 1", "reviewer 2". Every reader (trace GET and list, QA history, the
dashboard, exports by a reviewer) goes through `view_for` and `apply_view`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.qa.result import QaResult
from bugtrail.reviews import repository as repo
from bugtrail.wire import TraceRead, TraceSummary

View = Literal["full", "developer", "blind"]
SummaryT = TypeVar("SummaryT", bound=TraceSummary)

# Top-level keys of a QA document that carry the judge's opinion (today's and any added later: a
# calibrated score, earlier judges' scores); the test verdict stays visible.
_JUDGE_KEY_PARTS = ("judge", "reasoning_score", "calibrat", "human")


def view_for(principal: Principal, developer_id: str, reviewed: bool) -> View:
    if principal.is_admin:
        return "full"
    if developer_id == principal.developer_id:
        return "developer"
    return "full" if reviewed else "blind"


def trace_view(session: Session, principal: Principal, trace_id: str, developer_id: str) -> View:
    reviewed = (
        principal.can_read_all
        and not principal.is_admin
        and developer_id != principal.developer_id
        and repo.has_reviewed(session, trace_id, principal.developer_id)
    )
    return view_for(principal, developer_id, reviewed)


@dataclass(frozen=True)
class Blinding:
    """A reader's views over many traces, from one query of the traces they have reviewed."""

    principal: Principal
    reviewed: frozenset[str] = field(default_factory=frozenset)

    def view(self, trace_id: str, developer_id: str) -> View:
        return view_for(self.principal, developer_id, trace_id in self.reviewed)


def blinding_for(session: Session, principal: Principal, among: list[str] | None = None) -> Blinding:
    if principal.is_admin or not principal.can_read_all:
        return Blinding(principal)
    return Blinding(principal, frozenset(repo.reviewed_trace_ids(session, principal.developer_id, among)))


def is_judge_key(key: str) -> bool:
    return any(part in key for part in _JUDGE_KEY_PARTS)


def blind_document(document: dict[str, Any]) -> dict[str, Any]:
    """A QA document without the judge's opinion."""
    return {key: value for key, value in document.items() if not is_judge_key(key)}


def blind_qa(qa: QaResult | None) -> QaResult | None:
    if qa is None:
        return None
    return QaResult.model_validate(blind_document(qa.model_dump(mode="json", by_alias=True)))


def apply_view(summary: SummaryT, view: View) -> SummaryT:
    """The trace (summary or whole) as this view may see it: blind drops the judge's score and record and
    the review summary (and the reviews of a TraceRead, shown as null: withheld, not absent)."""
    if view != "blind":
        return summary
    update: dict[str, Any] = {"reasoning_score": None, "review_decision": None, "human_score": None}
    if isinstance(summary, TraceRead):
        update["qa_results"] = blind_qa(summary.qa_results)
        update["reviews"] = None
    return summary.model_copy(update=update)
