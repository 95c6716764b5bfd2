"""Webhook rules: which events exist, registering a URL, fanning an event out into delivery rows."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from bugtrail.config import Settings
from bugtrail.db.models import Webhook
from bugtrail.errors import InvalidInput, NotFound
from bugtrail.jobs import queue
from bugtrail.webhooks import repository
from bugtrail.webhooks.ssrf import DestinationPolicy, Resolver
from bugtrail.webhooks.tasks import DELIVER, receiver_key

WEBHOOK_EVENTS: tuple[str, ...] = ("trace.finalized", "qa.completed", "qa.failed", "review.submitted")
DEFAULT_MAX_ATTEMPTS = Settings.model_fields["webhook_max_attempts"].default


def enqueue_event(session: Session, event: str, payload: dict[str, Any]) -> None:
    """Create one pending delivery and its "webhook.deliver" job per active subscriber, inside the
    caller's transaction (flush only).

    Called by finalize (trace.finalized), the QA pipeline (qa.completed / qa.failed) and a submitted
    review (review.submitted); a worker sends them after the caller commits, so a rolled-back write sends
    nothing.
    """
    if event not in WEBHOOK_EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    subscribers = repository.active_subscribers(session, event)
    if not subscribers:
        return
    for delivery, webhook in repository.add_deliveries(session, subscribers, event, payload):
        queue.enqueue(
            session,
            DELIVER,
            # The worker applies webhook_max_attempts when it runs (TaskPolicy.max_attempts).
            max_attempts=DEFAULT_MAX_ATTEMPTS,
            payload={"delivery_id": delivery.id},
            concurrency_key=receiver_key(webhook.url),
        )


def register_webhook(
    session: Session,
    settings: Settings,
    url: str,
    events: list[str],
    created_by: str | None,
    secret: str | None = None,
    resolver: Resolver | None = None,
) -> Webhook:
    url = url.strip()
    unknown = sorted(set(events) - set(WEBHOOK_EVENTS))
    if not events or unknown:
        raise InvalidInput(
            "events must be a non-empty subset of the known events",
            detail={"unknown": unknown, "allowed": list(WEBHOOK_EVENTS)},
        )
    # Checked now for a clear error, and again before every delivery (DNS can change).
    DestinationPolicy.from_settings(settings, resolver).resolve(url)
    if secret is not None and len(secret) < 16:
        raise InvalidInput("secret must be at least 16 characters")
    return repository.add_webhook(
        session, url, secret or "whsec_" + secrets.token_urlsafe(32), sorted(set(events)), created_by
    )


def remove_webhook(session: Session, webhook_id: int) -> None:
    if not repository.delete_webhook(session, webhook_id):
        raise NotFound(f"no webhook {webhook_id}")


def require_webhook(session: Session, webhook_id: int) -> Webhook:
    webhook = repository.get_webhook(session, webhook_id)
    if webhook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return webhook
