"""Allowed: the request dependency owns the transaction and uses FastAPI."""

from fastapi import Request
from starlette.concurrency import run_in_threadpool


async def session(request: Request):
    session = request.app.state.database.sessions()
    yield session
    await run_in_threadpool(session.commit)
