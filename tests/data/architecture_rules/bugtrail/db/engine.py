"""Allowed: db/ defines the committing scope and may run raw SQL."""

from contextlib import contextmanager

from sqlalchemy import text


@contextmanager
def session_scope(factory):
    session = factory()
    try:
        yield session
        session.commit()
    finally:
        session.close()


def ping(connection):
    connection.execute(text("SELECT 1"))
