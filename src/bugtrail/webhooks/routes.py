"""Webhook management API (admin only): register, list, remove, inspect deliveries."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from bugtrail.api.deps import AdminPrincipal, AppSettings, DbSession
from bugtrail.db.models import Webhook, WebhookDelivery
from bugtrail.webhooks import repository, service

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


class WebhookCreate(BaseModel):
    url: str = Field(min_length=1, max_length=2000)
    events: list[str] = Field(
        min_length=1, description="trace.finalized, qa.completed, qa.failed, review.submitted"
    )
    secret: str | None = Field(default=None, description="generated when absent; shown only on create")


class WebhookRead(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_by: str | None
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(description="HMAC-SHA256 signing secret; store it, it is not shown again")


class DeliveryRead(BaseModel):
    id: int
    webhook_id: int
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _read(row: Webhook) -> WebhookRead:
    return WebhookRead(
        id=row.id,
        url=row.url,
        events=list(row.events),
        active=row.active,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _delivery(row: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead.model_validate(row, from_attributes=True)


@router.post("", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookCreate, session: DbSession, settings: AppSettings, principal: AdminPrincipal):
    row = service.register_webhook(
        session, settings, body.url, body.events, created_by=principal.developer_id, secret=body.secret
    )
    return WebhookCreated(**_read(row).model_dump(), secret=row.secret)


@router.get("", response_model=list[WebhookRead])
def list_webhooks(session: DbSession, _principal: AdminPrincipal):
    return [_read(row) for row in repository.list_webhooks(session)]


@router.delete("/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: int, session: DbSession, _principal: AdminPrincipal) -> None:
    service.remove_webhook(session, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryRead])
def list_deliveries(
    webhook_id: int, session: DbSession, _principal: AdminPrincipal, limit: int = Query(100, ge=1, le=1000)
):
    service.require_webhook(session, webhook_id)
    return [_delivery(row) for row in repository.list_deliveries(session, webhook_id, limit)]
