"""Violation (fastapi): Starlette (FastAPI's base) imported by a service."""

from starlette.concurrency import run_in_threadpool


async def rerun(function):
    return await run_in_threadpool(function)
