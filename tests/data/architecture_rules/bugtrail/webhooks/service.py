"""Violation (transaction): a commit handed to a thread instead of called."""

from anyio.to_thread import run_sync


async def save(session, delivery):
    session.add(delivery)
    await run_sync(session.commit)
