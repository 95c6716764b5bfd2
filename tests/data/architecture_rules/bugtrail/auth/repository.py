"""Allowed: SQL in a repository module."""

from sqlalchemy import select, update

from bugtrail.db.models import ApiKey


def find_key(session, prefix):
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def revoke(session, prefix):
    session.execute(update(ApiKey).where(ApiKey.prefix == prefix).values(revoked=True))
