"""Review payloads and reviewable traces seeded straight into the tables (review and browser tests)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bugtrail.db.engine import Database
from bugtrail.db.models import Event
from bugtrail.qa.judge import CRITERIA
from tests.support.seed import add_trace


def review_body(score: int = 4, decision: str = "accept", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "criteria": {name: score for name in CRITERIA},
        "overall": float(score),
        "decision": decision,
        "reason": f"scored {score}: the hypothesis is tested before the fix",
        "feedback": "Say which alternative you ruled out and why.",
        "event_marks": [],
    }
    body.update(overrides)
    return body


def seed_reviewable(
    database: Database, count: int, developer_id: str = "alice", **trace_fields: Any
) -> list[str]:
    """`count` traces whose QA completed (oldest first), each with events and a judge score."""
    with database.scope() as session:
        return [add_trace(session, index=i, developer_id=developer_id, **trace_fields) for i in range(count)]


def event_ids(database: Database, trace_id: str) -> list[str]:
    with database.scope(read_only=True) as session:
        query = select(Event.event_id).where(Event.trace_id == trace_id).order_by(Event.seq)
        return list(session.scalars(query))


def reviewer_keys(database: Database, names: list[str], role: str = "reviewer") -> dict[str, dict[str, str]]:
    """Bearer headers for extra keys (several reviewers working one queue)."""
    from bugtrail.auth.keys import create_key

    headers: dict[str, dict[str, str]] = {}
    with database.scope() as session:
        for name in names:
            _, key = create_key(session, name, role)
            headers[name] = {"Authorization": f"Bearer {key}"}
    return headers
