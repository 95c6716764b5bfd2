"""API keys: random tokens shown once, stored as sha256, each bound to a developer and a role."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bugtrail.auth import repository
from bugtrail.db.models import ApiKey, utcnow
from bugtrail.errors import InvalidInput, NotFound

__all__ = ["ApiKey", "Principal"]

ROLES = ("developer", "reviewer", "admin")
KEY_PREFIX = "btk_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from the bearer key on every request."""

    key_id: int
    developer_id: str
    role: str

    @property
    def can_read_all(self) -> bool:
        return self.role in ("reviewer", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    session: Session, developer_id: str, role: str, label: str | None = None
) -> tuple[ApiKey, str]:
    """Returns the stored row and the plaintext key, which is never stored and cannot be shown again."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", detail={"allowed": list(ROLES)})
    developer_id = developer_id.strip()
    if not developer_id:
        raise InvalidInput("developer must be a non-empty name")
    key = generate_key()
    row = ApiKey(
        key_prefix=key[:12], key_hash=hash_key(key), developer_id=developer_id, role=role, label=label
    )
    session.add(row)
    session.flush()
    return row, key


def find_active(session: Session, key: str) -> Principal | None:
    row = repository.key_by_hash(session, hash_key(key))
    if row is None or row.revoked_at is not None:
        return None
    return Principal(key_id=row.id, developer_id=row.developer_id, role=row.role)


def list_keys(session: Session, include_revoked: bool = False) -> list[ApiKey]:
    return repository.keys_in_order(session, include_revoked)


def revoke(session: Session, key_id_or_prefix: str) -> ApiKey:
    rows = repository.keys_by_id_or_prefix(session, key_id_or_prefix)
    if not rows:
        raise NotFound(f"no API key with id or prefix {key_id_or_prefix!r}")
    if len(rows) > 1:
        raise InvalidInput(f"prefix {key_id_or_prefix!r} matches several keys; use the numeric id")
    row = rows[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def has_any_key(session: Session) -> bool:
    return repository.any_key_exists(session)
