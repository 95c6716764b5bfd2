"""Violation (sql): a statement built outside the repository."""

from sqlalchemy import select

from bugtrail.db.models import ApiKey


def find_key(session, prefix):
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
