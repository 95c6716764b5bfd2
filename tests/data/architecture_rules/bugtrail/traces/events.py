"""Violation (sql): a statement executed outside the repository."""


def store(session, statement):
    return session.execute(statement)
