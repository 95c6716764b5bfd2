"""Violations: a service opens its own committing scope (transaction), raises FastAPI's errors (fastapi)."""

from fastapi import HTTPException


def record_export(database, export):
    if export is None:
        raise HTTPException(404)
    with database.scope() as session:
        session.add(export)
