"""Consent rules: admins record, replace and withdraw it; a developer may read their own."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bugtrail.auth.keys import Principal
from bugtrail.consent import repository as repo
from bugtrail.consent.schemas import ConsentRead, ConsentSet, check_developer_id, to_read
from bugtrail.db.models import utcnow
from bugtrail.errors import Forbidden, InvalidInput, NotFound


def developer_id_of(raw: str) -> str:
    """The path's developer id, checked (422 naming developer_id)."""
    try:
        return check_developer_id(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid developer_id: {exc}",
            detail=[{"field": "developer_id", "message": str(exc), "type": "value_error"}],
        ) from exc


def save(
    session: Session, developer_id: str, body: ConsentSet, updated_by: str | None
) -> tuple[ConsentRead, bool]:
    developer_id = developer_id_of(developer_id)
    row, created = repo.upsert(
        session, developer_id, body.licence, body.given_at(utcnow()), body.external_use, updated_by
    )
    return to_read(row), created


def get(session: Session, principal: Principal, developer_id: str) -> ConsentRead:
    """An admin reads anyone's; anyone else only their own (consent is personal data)."""
    developer_id = developer_id_of(developer_id)
    if not principal.is_admin and principal.developer_id != developer_id:
        raise Forbidden(
            "only an admin may read another developer's consent",
            detail={
                "role": principal.role,
                "hint": f"read your own: /api/developers/{principal.developer_id}/consent",
            },
        )
    row = repo.get(session, developer_id)
    if row is None:
        raise NotFound(
            f"no consent recorded for developer {developer_id!r}",
            detail={"hint": "until an admin records it, their traces are left out of external exports"},
        )
    return to_read(row)


def remove(session: Session, developer_id: str) -> ConsentRead:
    """Withdraw: the record goes, so later external exports leave the developer's traces out."""
    developer_id = developer_id_of(developer_id)
    row = repo.get(session, developer_id, for_update=True)
    if row is None:
        raise NotFound(f"no consent recorded for developer {developer_id!r}")
    removed = to_read(row)
    repo.delete_row(session, developer_id)
    return removed


def list_consents(session: Session, external_only: bool = False) -> list[ConsentRead]:
    return [to_read(row) for row in repo.list_rows(session, external_only)]
