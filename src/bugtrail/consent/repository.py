"""All SQL for developer consent. Functions flush, never commit: the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from bugtrail.consent.schemas import INTERNAL
from bugtrail.db.models import DeveloperConsent, Trace, utcnow

_IN_CHUNK = 500


def get(session: Session, developer_id: str, for_update: bool = False) -> DeveloperConsent | None:
    query = select(DeveloperConsent).where(DeveloperConsent.developer_id == developer_id)
    return session.scalar(query.with_for_update() if for_update else query)


def for_developers(session: Session, developer_ids: Iterable[str]) -> dict[str, Any]:
    """developer_id -> consent row (Core rows shaped like DeveloperConsent) for those that have one."""
    wanted = sorted(set(developer_ids))
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        rows = session.execute(
            select(*DeveloperConsent.__table__.c).where(DeveloperConsent.developer_id.in_(chunk))
        )
        found.update({row.developer_id: row for row in rows})
    return found


def list_rows(session: Session, external_only: bool = False) -> list[DeveloperConsent]:
    query = select(DeveloperConsent).order_by(DeveloperConsent.developer_id)
    if external_only:
        query = query.where(*_external_conditions())
    return list(session.scalars(query))


def upsert(
    session: Session,
    developer_id: str,
    licence: str,
    given_at: datetime | None,
    external_use: bool,
    updated_by: str | None,
) -> tuple[DeveloperConsent, bool]:
    """Create the developer's record or replace every field of it; True when created."""
    row = get(session, developer_id, for_update=True)
    created = row is None
    if row is None:
        row = DeveloperConsent(developer_id=developer_id)
        session.add(row)
    row.licence = licence
    row.consent_given_at = given_at
    row.external_use = external_use
    row.updated_by = updated_by
    row.updated_at = utcnow()
    session.flush()
    return row, created


def delete_row(session: Session, developer_id: str) -> None:
    session.execute(delete(DeveloperConsent).where(DeveloperConsent.developer_id == developer_id))
    session.flush()


def _external_conditions() -> list[ColumnElement[bool]]:
    # The same rule as schemas.external_export, in SQL.
    return [
        DeveloperConsent.consent_given_at.is_not(None),
        DeveloperConsent.external_use.is_(True),
        DeveloperConsent.licence != INTERNAL,
    ]


def external_use_condition() -> ColumnElement[bool]:
    """A condition on Trace: its developer consented to external use (for export queries)."""
    return Trace.developer_id.in_(select(DeveloperConsent.developer_id).where(*_external_conditions()))


def licence_condition(licences: list[str]) -> ColumnElement[bool]:
    """A condition on Trace: the licence its rows carry is one of `licences` (schemas.trace_licence: the
    developer's licence once consent is given, else "internal")."""
    given = DeveloperConsent.consent_given_at.is_not(None)
    spdx = [licence for licence in licences if licence != INTERNAL]
    conditions: list[ColumnElement[bool]] = []
    if spdx:
        chosen = select(DeveloperConsent.developer_id).where(given, DeveloperConsent.licence.in_(spdx))
        conditions.append(Trace.developer_id.in_(chosen))
    if INTERNAL in licences:
        licensed = select(DeveloperConsent.developer_id).where(given, DeveloperConsent.licence != INTERNAL)
        conditions.append(Trace.developer_id.not_in(licensed))
    return or_(*conditions)
