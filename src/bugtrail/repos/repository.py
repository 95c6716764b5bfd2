"""All SQL for repository configurations. Functions flush, never commit: the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bugtrail.db.models import RepoConfigRow, utcnow
from bugtrail.repos.schemas import RepoConfig, RepoConfigRead
from bugtrail.repos.urls import parse_prefix, prefix_matches, repo_key

_FIELDS = tuple(RepoConfig.model_fields)


def to_config(row: RepoConfigRow) -> RepoConfig:
    return RepoConfig.model_construct(**{name: getattr(row, name) for name in _FIELDS})


def to_read(row: RepoConfigRow) -> RepoConfigRead:
    return RepoConfigRead.model_validate(row, from_attributes=True)


def list_rows(session: Session) -> list[RepoConfigRow]:
    return list(session.scalars(select(RepoConfigRow).order_by(RepoConfigRow.url_prefix)))


def get_by_id(session: Session, config_id: int) -> RepoConfigRow | None:
    return session.get(RepoConfigRow, config_id)


def get_by_prefix(session: Session, url_prefix: str, for_update: bool = False) -> RepoConfigRow | None:
    query = select(RepoConfigRow).where(RepoConfigRow.url_prefix == url_prefix)
    return session.scalar(query.with_for_update() if for_update else query)


def upsert(session: Session, config: RepoConfig, created_by: str | None) -> tuple[RepoConfigRow, bool]:
    """Create the configuration of config.url_prefix, or replace every field of the existing one."""
    row = get_by_prefix(session, config.url_prefix, for_update=True)
    created = row is None
    if row is None:
        row = RepoConfigRow(url_prefix=config.url_prefix, created_by=created_by)
        session.add(row)
    for name in _FIELDS:
        setattr(row, name, getattr(config, name))
    row.updated_at = utcnow()
    session.flush()
    return row, created


def delete_row(session: Session, row: RepoConfigRow) -> None:
    session.execute(delete(RepoConfigRow).where(RepoConfigRow.id == row.id))
    session.flush()


def find_row(session: Session, repo_url: str) -> RepoConfigRow | None:
    """The configuration whose url_prefix matches repo_url by the most path segments (None if none does)."""
    key = repo_key(repo_url)
    if key is None:
        return None
    # Few rows (one per repository or organisation): matching in Python keeps the segment rule in one place.
    best: tuple[int, RepoConfigRow] | None = None
    for row in session.scalars(select(RepoConfigRow)):
        try:
            prefix = parse_prefix(row.url_prefix)
        except ValueError:
            continue
        if prefix_matches(prefix, key) and (best is None or len(prefix.segments) > best[0]):
            best = (len(prefix.segments), row)
    return best[1] if best else None


def find_config(session: Session, repo_url: str) -> RepoConfig | None:
    """What QA calls: the registered configuration that applies to repo_url (longest matching prefix)."""
    row = find_row(session, repo_url)
    return to_config(row) if row is not None else None
