"""Who am I, and key management for admins."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from bugtrail.api.deps import AdminPrincipal, CurrentPrincipal, DbSession, key_cache
from bugtrail.auth import keys
from bugtrail.wire import Role

router = APIRouter(prefix="/api", tags=["auth"])


class WhoAmI(BaseModel):
    developer_id: str
    role: Role


class KeyCreate(BaseModel):
    developer_id: str = Field(min_length=1, max_length=200)
    role: Role = "developer"
    label: str | None = Field(default=None, max_length=200)


class KeyRead(BaseModel):
    id: int
    key_prefix: str
    developer_id: str
    role: Role
    label: str | None
    # Aware UTC from the database (db.models.UtcDateTime), so an RFC 3339 date-time as the schema promises.
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None


class KeyCreated(KeyRead):
    key: str = Field(description="shown once; store it now")


def _read(row: keys.ApiKey) -> KeyRead:
    return KeyRead.model_validate(row, from_attributes=True)


@router.get("/whoami", response_model=WhoAmI)
def whoami(principal: CurrentPrincipal) -> WhoAmI:
    return WhoAmI(developer_id=principal.developer_id, role=principal.role)


@router.post("/keys", response_model=KeyCreated, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyCreate, session: DbSession, _admin: AdminPrincipal) -> KeyCreated:
    row, key = keys.create_key(session, body.developer_id, body.role, body.label)
    return KeyCreated(**_read(row).model_dump(), key=key)


@router.get("/keys", response_model=list[KeyRead])
def list_keys(session: DbSession, _admin: AdminPrincipal, include_revoked: bool = False) -> list[KeyRead]:
    return [_read(row) for row in keys.list_keys(session, include_revoked)]


@router.delete("/keys/{key_id}", response_model=KeyRead)
def revoke_key(key_id: int, request: Request, session: DbSession, _admin: AdminPrincipal) -> KeyRead:
    row = keys.revoke(session, str(key_id))
    # Before the commit: from now on this process refuses the key (other processes within the cache TTL).
    key_cache(request.app).revoke(row.id)
    return _read(row)
