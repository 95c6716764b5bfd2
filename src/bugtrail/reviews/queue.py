"""The review queue: hand a reviewer the next trace to review and reserve it with a short lease.

A reviewer who already holds an unexpired lease on a trace they have not reviewed gets that trace again
(its lease renewed), so asking twice never reserves two traces. Otherwise the best eligible trace is
leased: QA finished, not their own, not reviewed by them, with a review slot open (reviews submitted plus
other reviewers' live leases below reviews_required), judge/verdict disagreements first, then oldest.
A single-review trace is therefore never handed to two reviewers at once; a double-review trace can be.
Submitting a review releases the lease; an expired lease frees the slot.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.config import Settings
from bugtrail.db.models import utcnow
from bugtrail.errors import Forbidden, NotFound
from bugtrail.reviews import overlap
from bugtrail.reviews import repository as repo
from bugtrail.reviews.schemas import QueueTake
from bugtrail.traces.repository import get_trace

MAX_ROUNDS = 50  # stale candidates only come from a race; this bounds the work of one take
PRIORITIES = {True: "judge_verdict_disagreement", False: "oldest"}
WAITING_CAP = 1000  # `waiting` counts eligible traces up to this many


def _require_reviewer(principal: Principal) -> None:
    if not principal.can_read_all:
        raise Forbidden("the review queue needs a reviewer or admin key", detail={"role": principal.role})


def take(session: Session, settings: Settings, principal: Principal) -> QueueTake:
    _require_reviewer(principal)
    reviewer = principal.developer_id
    now = utcnow()
    expires = now + timedelta(seconds=settings.review_lease_s)
    repo.delete_expired_leases(session, reviewer, now)
    held = repo.held_lease(session, reviewer, now)
    if held is not None:
        repo.put_lease(session, held, reviewer, expires, now)
        return _answer(session, reviewer, held, None, expires, renewed=True)
    tried: set[str] = set()
    for _ in range(MAX_ROUNDS):
        # One candidate at a time: on PostgreSQL it is locked (SKIP LOCKED), so concurrent takes each lock
        # a different trace instead of one take locking a whole batch away from the others.
        found = repo.next_candidate(session, reviewer, now, exclude=tried)
        if found is None:
            break
        trace_id, disagrees = found
        # A concurrent take may have leased it since that query's snapshot: check again, now it is locked.
        if repo.still_open(session, trace_id, reviewer, now):
            trace = get_trace(session, trace_id)
            assert trace is not None
            if trace.reviews_required is None:
                repo.fix_required(session, trace, overlap.required_for_next(session, settings.review_overlap))
            repo.put_lease(session, trace_id, reviewer, expires, now)
            return _answer(session, reviewer, trace_id, PRIORITIES[disagrees], expires)
        tried.add(trace_id)
    return QueueTake(trace_id=None, waiting=0)


def _answer(
    session: Session,
    reviewer: str,
    trace_id: str,
    priority: str | None,
    expires: datetime,
    renewed: bool = False,
) -> QueueTake:
    trace = get_trace(session, trace_id)
    assert trace is not None
    # The trace handed out is still eligible for this reviewer (their own lease does not count): not waiting.
    waiting = max(0, repo.waiting_count(session, reviewer, utcnow(), WAITING_CAP + 1) - 1)
    return QueueTake(
        trace_id=uuid.UUID(trace_id),
        lease_expires_at=expires,
        reviews_required=trace.reviews_required,
        reviews_done=repo.reviewers_done(session, trace_id),
        priority=priority,
        renewed=renewed,
        waiting=waiting,
    )


def release(session: Session, principal: Principal, trace_id: str) -> None:
    """Give a taken trace back to the queue before the lease expires (skip it)."""
    _require_reviewer(principal)
    if not repo.release_lease(session, trace_id, principal.developer_id):
        raise NotFound(f"you hold no lease on trace {trace_id}")
