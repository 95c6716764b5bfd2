"""Violation (sql): raw SQL through a module alias."""

import sqlalchemy as sa


def count(connection):
    return connection.scalar(sa.text("SELECT count(*) FROM qa_result"))
