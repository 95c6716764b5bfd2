"""HTTP routes for human review: submit and read reviews, list them, and the review queue.

No route has a bare `/api/reviews/{id}` path parameter, so `/api/reviews/agreement` (the agreement
domain) and `/api/reviews/queue` stay distinct.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from bugtrail.api.deps import (
    AppSettings,
    CurrentPrincipal,
    DbSession,
    ReviewerPrincipal,
    gate_principal,
    run_write,
)
from bugtrail.auth.keys import Principal, find_active
from bugtrail.errors import Unauthorized
from bugtrail.reviews import queue, service
from bugtrail.reviews import repository as repo
from bugtrail.reviews.schemas import QueueTake, ReviewCreate, ReviewList
from bugtrail.wire import ReviewDecision, ReviewRead

router = APIRouter(prefix="/api", tags=["reviews"])

_bearer = HTTPBearer(auto_error=False, description="API key: `Authorization: Bearer <key>`")


@router.post("/traces/{trace_id}/reviews", response_model=ReviewRead, status_code=status.HTTP_201_CREATED)
def submit_review(
    trace_id: uuid.UUID,
    body: ReviewCreate,
    session: DbSession,
    settings: AppSettings,
    principal: ReviewerPrincipal,
) -> ReviewRead:
    """Submit a review (reviewer or admin; never of one's own trace; QA must have finished). Immutable: a
    later review by the same reviewer supersedes theirs, and both are kept."""
    return service.submit_review(session, settings, principal, str(trace_id), body)


@router.get("/traces/{trace_id}/reviews", response_model=list[ReviewRead])
def trace_reviews(trace_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> list[ReviewRead]:
    """A trace's reviews, oldest first: none to a reviewer who has not reviewed it yet (blind); its
    developer sees them with reviewers named "reviewer 1", "reviewer 2"."""
    return service.trace_reviews(session, principal, str(trace_id))


@router.get("/reviews", response_model=ReviewList)
def list_reviews(
    session: DbSession,
    principal: ReviewerPrincipal,
    reviewer: Annotated[str | None, Query(max_length=200)] = None,
    decision: ReviewDecision | None = None,
    trace_id: uuid.UUID | None = None,
    since: Annotated[datetime | None, Query(description="created at or after, ISO 8601")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> ReviewList:
    """Reviews, newest first (paged with next_cursor). A reviewer sees only reviews of traces they have
    reviewed themselves; an admin sees all."""
    filters = repo.ReviewFilter(
        reviewer=reviewer, decision=decision, trace_id=str(trace_id) if trace_id else None, since=since
    )
    return service.list_reviews(session, principal, filters, limit, cursor)


def _principal(
    session: Session, request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    principal = gate_principal(request)  # POST: checked by api/auth_gate.py before the body
    if principal is not None:
        return principal
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "missing API key", detail={"hint": "send the header 'Authorization: Bearer <key>'"}
        )
    principal = find_active(session, credentials.credentials)
    if principal is None:
        raise Unauthorized("API key is unknown or revoked")
    return principal


async def _take(
    request: Request, settings: AppSettings, credentials: HTTPAuthorizationCredentials | None
) -> QueueTake:
    # One write transaction (the lease) whatever the method: the key is looked up inside it.
    return await run_write(
        request, lambda session: queue.take(session, settings, _principal(session, request, credentials))
    )


@router.get("/reviews/queue", response_model=QueueTake)
async def take_from_queue(
    request: Request,
    settings: AppSettings,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> QueueTake:
    """The next trace for this reviewer, reserved for BUGTRAIL_REVIEW_LEASE_S; the trace already held is
    returned again (lease renewed) until it is reviewed or released. trace_id is null when none waits."""
    return await _take(request, settings, credentials)


@router.post("/reviews/queue", response_model=QueueTake)
async def take_from_queue_post(
    request: Request,
    settings: AppSettings,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> QueueTake:
    """The same as GET /api/reviews/queue, for clients that take with POST."""
    return await _take(request, settings, credentials)


@router.delete("/reviews/queue/{trace_id}", status_code=status.HTTP_204_NO_CONTENT)
def release_lease(trace_id: uuid.UUID, session: DbSession, principal: ReviewerPrincipal) -> Response:
    """Give a taken trace back (skip it) before its lease expires."""
    queue.release(session, principal, str(trace_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
