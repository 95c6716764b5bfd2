"""All webhook SQL: registrations and their durable deliveries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bugtrail.db.models import Webhook, WebhookDelivery, utcnow


def add_webhook(
    session: Session, url: str, secret: str, events: list[str], created_by: str | None
) -> Webhook:
    row = Webhook(url=url, secret=secret, events=events, active=True, created_by=created_by)
    session.add(row)
    session.flush()
    return row


def get_webhook(session: Session, webhook_id: int) -> Webhook | None:
    return session.get(Webhook, webhook_id)


def list_webhooks(session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def delete_webhook(session: Session, webhook_id: int) -> bool:
    # Deliveries go with it (ON DELETE CASCADE; SQLite enforces it via PRAGMA foreign_keys).
    session.execute(delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id))
    result = session.execute(delete(Webhook).where(Webhook.id == webhook_id))
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def active_subscribers(session: Session, event: str) -> list[Webhook]:
    # Subscriptions are a small JSON list per webhook; filtering in Python keeps SQLite and
    # PostgreSQL on the same code path (there are few webhooks).
    rows = session.scalars(select(Webhook).where(Webhook.active.is_(True)).order_by(Webhook.id))
    return [row for row in rows if event in (row.events or [])]


def add_deliveries(
    session: Session, webhooks: Sequence[Webhook], event: str, payload: dict[str, Any]
) -> list[tuple[WebhookDelivery, Webhook]]:
    now = utcnow()
    rows = [
        WebhookDelivery(
            webhook_id=webhook.id,
            event=event,
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for webhook in webhooks
    ]
    session.add_all(rows)
    session.flush()
    return list(zip(rows, webhooks, strict=True))


def list_deliveries(session: Session, webhook_id: int, limit: int = 100) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def load_delivery(session: Session, delivery_id: int) -> tuple[WebhookDelivery, Webhook] | None:
    row = session.execute(
        select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id == delivery_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def record_attempt(
    session: Session,
    delivery_id: int,
    attempts: int,
    *,
    state: str,
    status_code: int | None,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "state": state,
        "attempts": attempts,
        "last_status_code": status_code,
        "last_error": error,
    }
    if state == "delivered":
        values["delivered_at"] = utcnow()
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values))
    session.flush()
