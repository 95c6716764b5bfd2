"""Review rules: who may review what, immutable reviews that supersede, the trace's review summary, and
who may read which reviews (the blind rule, reviews/visibility.py)."""

from __future__ import annotations

import base64
import statistics
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.db.models import Review, Trace
from bugtrail.errors import BadRequest, Conflict, Forbidden, InvalidInput, NotFound
from bugtrail.qa.judge.rubric import RUBRIC_VERSION
from bugtrail.reviews import overlap, shape
from bugtrail.reviews import repository as repo
from bugtrail.reviews.schemas import ReviewCreate, ReviewList
from bugtrail.reviews.visibility import trace_view
from bugtrail.traces.repository import get_trace
from bugtrail.webhooks import enqueue_event
from bugtrail.wire import ReviewRead

# When the current reviews disagree, the most severe decision is the trace's: a dataset filtered on
# review_decision=accept then holds only traces every current reviewer accepted.
SEVERITY = {"accept": 0, "needs_changes": 1, "reject": 2}


def _require_reviewer(principal: Principal) -> None:
    if not principal.can_read_all:
        raise Forbidden("reviews need a reviewer or admin key", detail={"role": principal.role})


def _reviewable(session: Session, principal: Principal, trace_id: str) -> Trace:
    trace = get_trace(session, trace_id, for_update=True)
    if trace is None:
        raise NotFound(f"trace {trace_id} not found")
    if trace.developer_id == principal.developer_id:
        raise Forbidden("nobody reviews their own trace", detail={"developer_id": trace.developer_id})
    if trace.status not in repo.QA_FINISHED:
        raise Conflict(
            f"trace {trace_id} cannot be reviewed before its QA has finished (status {trace.status})",
            detail={"status": trace.status, "reviewable": list(repo.QA_FINISHED)},
        )
    return trace


def _check_marks(session: Session, trace_id: str, payload: ReviewCreate) -> None:
    """Every marked event must be an event of this trace; the error names each bad one."""
    wanted = [str(mark.event_id) for mark in payload.event_marks]
    if not wanted:
        return
    known = repo.existing_event_ids(session, trace_id, sorted(set(wanted)))
    problems = [
        {
            "field": f"event_marks[{index}].event_id",
            "message": f"trace {trace_id} has no event {event_id}",
            "type": "unknown_event",
        }
        for index, event_id in enumerate(wanted)
        if event_id not in known
    ]
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
        raise InvalidInput(f"invalid request: {summary}", detail=problems)


def decision_of(reviews: Sequence[Any]) -> str | None:
    if not reviews:
        return None
    return max((review.decision for review in reviews), key=SEVERITY.__getitem__)


def _current(reviews: Sequence[Review]) -> list[Review]:
    superseded = {review.supersedes_id for review in reviews if review.supersedes_id is not None}
    return [review for review in reviews if review.id not in superseded]


def submit_review(
    session: Session, settings: Settings, principal: Principal, trace_id: str, payload: ReviewCreate
) -> ReviewRead:
    _require_reviewer(principal)
    trace = _reviewable(session, principal, trace_id)
    _check_marks(session, trace_id, payload)
    previous = repo.latest_review_by(session, trace_id, principal.developer_id)
    review = repo.add_review(
        session,
        Review(
            trace_id=trace_id,
            reviewer_id=principal.developer_id,
            criteria=payload.criteria_scores(),
            overall=float(payload.overall),
            decision=payload.decision,
            reason=payload.reason,
            feedback=payload.feedback,
            event_marks=[mark.model_dump(mode="json") for mark in payload.event_marks],
            rubric_version=RUBRIC_VERSION,
            supersedes_id=previous.id if previous is not None else None,
        ),
    )
    reviews = repo.reviews_of(session, trace_id)
    current = _current(reviews)
    required = trace.reviews_required or overlap.required_for_next(session, settings.review_overlap)
    repo.set_summary(
        session,
        trace,
        decision_of(current),
        round(statistics.fmean(r.overall for r in current), 4),
        required,
    )
    repo.release_lease(session, trace_id, principal.developer_id)
    enqueue_event(
        session,
        "review.submitted",
        {
            "review_id": review.id,
            "trace_id": trace_id,
            "developer_id": trace.developer_id,
            "reviewer_id": review.reviewer_id,
            "decision": review.decision,
            "overall": review.overall,
            "supersedes_id": review.supersedes_id,
            "review_decision": trace.review_decision,
            "human_score": trace.human_score,
            "reviews_required": trace.reviews_required,
            "reviews_done": len(current),
        },
    )
    reads = shape.trace_reviews(reviews, "full") or []
    return next(read for read in reads if read.id == review.id)


def trace_reviews(session: Session, principal: Principal, trace_id: str) -> list[ReviewRead]:
    """The reviews of one trace as this principal may see them: an admin all; a reviewer all once they
    have reviewed it, none before (blind); the trace's developer all, reviewers named by label only."""
    trace = get_trace(session, trace_id)
    if not principal.can_read_all and (trace is None or trace.developer_id != principal.developer_id):
        # The same answer for another developer's trace and a missing one: no existence oracle.
        raise Forbidden(
            "a developer key reads only the reviews of the developer's own traces",
            detail={"role": principal.role},
        )
    if trace is None:
        raise NotFound(f"trace {trace_id} not found")
    view = trace_view(session, principal, trace_id, trace.developer_id)
    return shape.trace_reviews(repo.reviews_of(session, trace_id), view) or []


def list_reviews(
    session: Session, principal: Principal, filters: repo.ReviewFilter, limit: int, cursor: str | None
) -> ReviewList:
    _require_reviewer(principal)
    if not principal.is_admin:
        filters = repo.ReviewFilter(**{**filters.__dict__, "visible_to": principal.developer_id})
    before = _decode_cursor(cursor) if cursor else None
    rows = repo.list_reviews(session, filters, limit + 1, before)
    page, more = rows[:limit], len(rows) > limit
    superseded = repo.superseded_ids(session, [row.id for row in page])
    order = repo.first_review_order(session, sorted({row.trace_id for row in page}))
    items = [
        shape.review_read(
            row,
            f"reviewer {order[row.trace_id].index(row.reviewer_id) + 1}",
            row.id not in superseded,
            anonymous=False,
        )
        for row in page
    ]
    next_cursor = _encode_cursor(page[-1].id) if more and page else None
    return ReviewList(items=items, next_cursor=next_cursor)


def _encode_cursor(review_id: int) -> str:
    return base64.urlsafe_b64encode(f"r{review_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("r") or not raw[1:].isdigit() or len(raw) > 20:
            raise ValueError(raw)
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("cursor is not valid; pass next_cursor from a previous page unchanged") from exc
