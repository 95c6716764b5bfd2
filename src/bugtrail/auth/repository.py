"""All SQL for API keys."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bugtrail.db.models import ApiKey


def key_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))


def keys_in_order(session: Session, include_revoked: bool) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(query))


def keys_by_id_or_prefix(session: Session, key_id_or_prefix: str) -> list[ApiKey]:
    """The key with this numeric id, or the keys whose stored 12-character prefix matches."""
    query = select(ApiKey)
    if key_id_or_prefix.isdigit():
        query = query.where(ApiKey.id == int(key_id_or_prefix))
    else:
        query = query.where(ApiKey.key_prefix == key_id_or_prefix[:12])
    return list(session.scalars(query))


def any_key_exists(session: Session) -> bool:
    return session.scalar(select(ApiKey.id).limit(1)) is not None
