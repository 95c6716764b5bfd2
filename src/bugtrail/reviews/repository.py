"""All review SQL: reviews, the trace's review summary, queue candidates and leases.

Functions flush, never commit: the caller owns the transaction. The queue's one dialect difference lives
here: on PostgreSQL candidates are locked with FOR UPDATE SKIP LOCKED (two reviewers taking at once get
different traces); SQLite has one writer, so the whole take is already serialised.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import Event, Review, ReviewLease, Trace

# A trace can be reviewed once QA has finished with it (a verdict, or an error that ended the run).
QA_FINISHED = ("completed", "failed")
_IN_CHUNK = 500


def existing_event_ids(session: Session, trace_id: str, event_ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(event_ids), _IN_CHUNK):
        chunk = event_ids[start : start + _IN_CHUNK]
        query = select(Event.event_id).where(Event.trace_id == trace_id, Event.event_id.in_(chunk))
        found.update(session.scalars(query))
    return found


def latest_review_by(session: Session, trace_id: str, reviewer_id: str) -> Review | None:
    query = (
        select(Review)
        .where(Review.trace_id == trace_id, Review.reviewer_id == reviewer_id)
        .order_by(Review.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def add_review(session: Session, review: Review) -> Review:
    session.add(review)
    session.flush()
    return review


def reviews_of(session: Session, trace_id: str) -> list[Review]:
    """Every review of the trace, superseded ones included, oldest first."""
    return list(session.scalars(select(Review).where(Review.trace_id == trace_id).order_by(Review.id)))


def reviews_of_traces(session: Session, trace_ids: Sequence[str]) -> dict[str, list[Any]]:
    """Reviews (Core rows shaped like Review) of many traces, oldest first per trace (exports)."""
    grouped: dict[str, list[Any]] = {}
    for start in range(0, len(trace_ids), _IN_CHUNK):
        chunk = trace_ids[start : start + _IN_CHUNK]
        query = select(*Review.__table__.c).where(Review.trace_id.in_(chunk)).order_by(Review.id)
        for row in session.execute(query):
            grouped.setdefault(row.trace_id, []).append(row)
    return grouped


def set_summary(
    session: Session, trace: Trace, decision: str | None, human_score: float | None, required: int | None
) -> None:
    trace.review_decision = decision
    trace.human_score = human_score
    if trace.reviews_required is None:
        trace.reviews_required = required
    session.flush()


def reviewed_trace_ids(session: Session, reviewer_id: str, among: Collection[str] | None = None) -> set[str]:
    """Traces this reviewer has submitted a review of (all of them, or those among `among`)."""
    base = select(Review.trace_id).where(Review.reviewer_id == reviewer_id).distinct()
    if among is None:
        return set(session.scalars(base))
    ids = list(among)
    found: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        found.update(session.scalars(base.where(Review.trace_id.in_(ids[start : start + _IN_CHUNK]))))
    return found


def has_reviewed(session: Session, trace_id: str, reviewer_id: str) -> bool:
    query = select(exists().where(Review.trace_id == trace_id, Review.reviewer_id == reviewer_id))
    return bool(session.scalar(query))


@dataclass(frozen=True)
class ReviewFilter:
    reviewer: str | None = None
    decision: str | None = None
    trace_id: str | None = None
    since: datetime | None = None
    # For a reviewer (not an admin): only reviews of traces this reviewer has reviewed (the blind rule).
    visible_to: str | None = None


def list_reviews(session: Session, filters: ReviewFilter, limit: int, before_id: int | None) -> list[Review]:
    """Newest first, keyset-paginated on id."""
    query = select(Review)
    if filters.reviewer is not None:
        query = query.where(Review.reviewer_id == filters.reviewer)
    if filters.decision is not None:
        query = query.where(Review.decision == filters.decision)
    if filters.trace_id is not None:
        query = query.where(Review.trace_id == filters.trace_id)
    if filters.since is not None:
        query = query.where(Review.created_at >= filters.since)
    if filters.visible_to is not None:
        mine = select(Review.trace_id).where(Review.reviewer_id == filters.visible_to)
        query = query.where(Review.trace_id.in_(mine))
    if before_id is not None:
        query = query.where(Review.id < before_id)
    return list(session.scalars(query.order_by(Review.id.desc()).limit(limit)))


def superseded_ids(session: Session, review_ids: Sequence[int]) -> set[int]:
    """Those of `review_ids` that a later review supersedes."""
    query = select(Review.supersedes_id).where(Review.supersedes_id.in_(list(review_ids)))
    return {value for value in session.scalars(query) if value is not None}


def first_review_order(session: Session, trace_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per trace, its reviewers in the order of their first review (for "reviewer 1", "reviewer 2")."""
    first = func.min(Review.id)
    query = (
        select(Review.trace_id, Review.reviewer_id, first)
        .where(Review.trace_id.in_(list(trace_ids)))
        .group_by(Review.trace_id, Review.reviewer_id)
        .order_by(Review.trace_id, first)
    )
    ordered: dict[str, list[str]] = {}
    for trace_id, reviewer_id, _ in session.execute(query):
        ordered.setdefault(trace_id, []).append(reviewer_id)
    return ordered


# --- queue ------------------------------------------------------------------------------------------------


def delete_expired_leases(session: Session, reviewer_id: str, now: datetime) -> None:
    """This reviewer's expired leases (everyone else's are ignored by the queries until they take again:
    concurrent takes never wait on each other's clean-up)."""
    session.execute(
        delete(ReviewLease).where(ReviewLease.reviewer_id == reviewer_id, ReviewLease.expires_at <= now)
    )


def release_lease(session: Session, trace_id: str, reviewer_id: str) -> bool:
    result = session.execute(
        delete(ReviewLease).where(ReviewLease.trace_id == trace_id, ReviewLease.reviewer_id == reviewer_id)
    )
    return bool(getattr(result, "rowcount", 0))


def put_lease(session: Session, trace_id: str, reviewer_id: str, expires_at: datetime, now: datetime) -> None:
    """Take or renew this reviewer's lease on the trace."""
    renewed = session.execute(
        update(ReviewLease)
        .where(ReviewLease.trace_id == trace_id, ReviewLease.reviewer_id == reviewer_id)
        .values(expires_at=expires_at)
    )
    if not getattr(renewed, "rowcount", 0):
        session.add(
            ReviewLease(trace_id=trace_id, reviewer_id=reviewer_id, expires_at=expires_at, created_at=now)
        )
    session.flush()


def _reviewers_done(trace_id: Any) -> Any:
    return (
        select(func.count(func.distinct(Review.reviewer_id)))
        .where(Review.trace_id == trace_id)
        .scalar_subquery()
    )


def _others_leasing(trace_id: Any, reviewer_id: str, now: datetime) -> Any:
    return (
        select(func.count())
        .select_from(ReviewLease)
        .where(
            ReviewLease.trace_id == trace_id,
            ReviewLease.reviewer_id != reviewer_id,
            ReviewLease.expires_at > now,
        )
        .scalar_subquery()
    )


def disagreement() -> ColumnElement[bool]:
    """The judge and the test verdict disagree (resolved but a low score, or not resolved but a high one):
    such traces are where human judgement is worth most, so the queue hands them out first."""
    return or_(
        and_(Trace.resolved.is_(True), Trace.reasoning_score <= 2.5),
        and_(Trace.resolved.is_(False), Trace.reasoning_score >= 3.5),
    )


def _eligible(reviewer_id: str, now: datetime) -> list[ColumnElement[bool]]:
    """QA finished, not the reviewer's own, not yet reviewed by them, and a review slot still open."""
    required = func.coalesce(Trace.reviews_required, 1)
    return [
        Trace.status.in_(QA_FINISHED),
        Trace.developer_id != reviewer_id,
        # Cheap first: a reviewed trace needing one review is complete (reviews_required is fixed by its
        # first review at the latest), so most finished traces drop out before the subqueries below.
        or_(Trace.human_score.is_(None), Trace.reviews_required > 1),
        ~exists().where(Review.trace_id == Trace.trace_id, Review.reviewer_id == reviewer_id),
        _reviewers_done(Trace.trace_id) + _others_leasing(Trace.trace_id, reviewer_id, now) < required,
    ]


def held_lease(session: Session, reviewer_id: str, now: datetime) -> str | None:
    """A trace the reviewer already holds (unexpired lease), still reviewable and not reviewed by them."""
    leases = select(ReviewLease.trace_id).where(
        ReviewLease.reviewer_id == reviewer_id, ReviewLease.expires_at > now
    )
    for trace_id in session.scalars(leases.order_by(ReviewLease.created_at)):  # a reviewer holds one or two
        status = session.scalar(select(Trace.status).where(Trace.trace_id == trace_id))
        if status in QA_FINISHED and not has_reviewed(session, trace_id, reviewer_id):
            return trace_id
    return None


# SQLite would pick the status index, then sort every eligible trace; walking the created_at index instead
# stops at the first eligible row (the queue wants the oldest).
_AGE_INDEX = "INDEXED BY ix_trace_created_at_trace_id"


def _in_age_order(query: Select[Any]) -> Select[Any]:
    return query.with_hint(Trace, _AGE_INDEX, dialect_name="sqlite").order_by(
        Trace.created_at, Trace.trace_id
    )


def next_candidate(
    session: Session, reviewer_id: str, now: datetime, exclude: Collection[str] = ()
) -> tuple[str, bool] | None:
    """(trace_id, disagreement) of the trace the reviewer should take next: the oldest eligible trace on
    which judge and verdict disagree, else the oldest eligible one. Each query walks the created_at index
    and stops at the first eligible row, so a take stays cheap when most traces are already reviewed.

    On PostgreSQL the row is locked and rows locked by a concurrent take are skipped; the caller re-checks
    the open slots of the locked trace in a new statement (READ COMMITTED sees the other take's committed
    lease) before leasing it.
    """
    for preferred in (True, False):
        query = select(Trace.trace_id).where(*_eligible(reviewer_id, now))
        if preferred:
            query = query.where(disagreement())
        if exclude:
            query = query.where(Trace.trace_id.not_in(list(exclude)))
        query = _in_age_order(query).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(of=Trace, skip_locked=True)
        trace_id = session.scalar(query)
        if trace_id is not None:
            return trace_id, preferred
    return None


def still_open(session: Session, trace_id: str, reviewer_id: str, now: datetime) -> bool:
    """The eligibility test again for one (locked) trace, as of now."""
    query = select(Trace.trace_id).where(Trace.trace_id == trace_id, *_eligible(reviewer_id, now))
    return session.scalar(query) is not None


def waiting_count(session: Session, reviewer_id: str, now: datetime, cap: int) -> int:
    """Eligible traces for this reviewer, counted up to `cap` (counting stops there: it stays cheap)."""
    query = select(Trace.trace_id).where(*_eligible(reviewer_id, now))
    eligible = query.with_hint(Trace, _AGE_INDEX, dialect_name="sqlite").limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(eligible)) or 0)


def reviewers_done(session: Session, trace_id: str) -> int:
    return int(session.scalar(select(_reviewers_done(trace_id))) or 0)


def overlap_counts(session: Session) -> tuple[int, int]:
    """(traces whose reviews_required is fixed, those of them double-reviewed)."""
    doubles = func.sum(case((Trace.reviews_required >= 2, 1), else_=0))
    row = session.execute(
        select(func.count(), doubles).select_from(Trace).where(Trace.reviews_required.is_not(None))
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def fix_required(session: Session, trace: Trace, required: int) -> None:
    if trace.reviews_required is None:
        trace.reviews_required = required
        session.flush()
