"""Admission to the database, decided in the event loop, so request threads never wait on each other.

Why: FastAPI runs each request's sync dependencies and handler as several hops through one shared thread
pool (40 threads). A request that holds SQLite's write lock (taken by BEGIN IMMEDIATE in the auth lookup)
needs more hops to reach its commit; if 40 other requests sit in BEGIN IMMEDIATE waiting for that lock, every
thread is taken, the holder never gets one, and everything stalls until busy_timeout answers 503 (measured:
50 concurrent creates -> 30 s stall, then 503s). The same happens on PostgreSQL when more requests than pool
connections wait for a checkout. Waiting here, in the event loop, costs no thread:
- SQLite writes are serialised (SQLite has one writer anyway): FIFO, no busy-handler sleep polling;
- every request holds one of `slots` database slots, fewer than the thread pool, so the pool never fills
  with requests waiting for a connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

# Starlette's default thread pool (anyio) has 40 threads; stay below it with room for other sync routes.
MAX_SLOTS = 32


class DbGate:
    def __init__(self, slots: int, serialize_writes: bool) -> None:
        self._slots = asyncio.Semaphore(max(1, min(slots, MAX_SLOTS)))
        self._writer = asyncio.Lock() if serialize_writes else None

    @asynccontextmanager
    async def admit(self, write: bool) -> AsyncIterator[Callable[[], None]]:
        """Hold a slot (and the writer lock for SQLite writes); yields an idempotent early release."""
        writer = self._writer if write else None
        await self._slots.acquire()
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                if writer is not None:
                    writer.release()
                self._slots.release()

        try:
            if writer is not None:
                await writer.acquire()
        except BaseException:
            self._slots.release()
            raise
        try:
            yield release
        finally:
            release()
