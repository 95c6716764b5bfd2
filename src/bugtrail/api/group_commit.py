"""Group commit: concurrent writes (creates and appends) share one transaction and one fsync.

A request prepares its rows first (parse, validate, redact, hash: no database), then submits its database
work here and waits. One writer takes everything queued at that moment (a group), runs each request's
work in a SAVEPOINT of one transaction, commits once, and only then answers every request of the group:
a 2xx still means durable. Per request nothing changes:
- all or nothing: a request whose work raises (409, 413, 422, a uniqueness race) has its savepoint rolled
  back and gets its own error; its neighbours in the group are committed and answered as usual;
- a storage failure (OperationalError: disk full, database gone, locked) fails the whole group with that
  error: nothing of the group is stored, every client retries (idempotently);
- order: within a group, work runs in arrival order per trace (a stable sort by trace id; PostgreSQL then
  takes row locks in one order in every group, so two groups in flight never deadlock).
Work that can be written together (appends) comes with a `Batch`: the group hands all payloads of one
kind to its `write_all` at once (a few statements for the whole group, not a few per request); if the
database refuses that (a race with another process), those requests are written one savepoint each.
No artificial wait: a group is whatever arrived while the previous one was being written, so a lone
request is written at once and a busy server writes large groups.

SQLite: one group at a time (it has one writer; the process-wide DbGate writer lock is held for the group,
and other processes wait in BEGIN IMMEDIATE). PostgreSQL: `lanes` groups in flight, no global lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from bugtrail.api.db_gate import DbGate
from bugtrail.db.engine import Database

log = logging.getLogger("bugtrail.api")

T = TypeVar("T")


@dataclass(frozen=True)
class Batch:
    """Requests of one `kind` in a group are written together: write_all(session, payloads) returns one
    result or exception per payload, in order, and raises only if the database refused the writes.
    Kinds are written by `stage`, lowest first (creates before appends: an append finds its trace)."""

    kind: str
    write_all: Callable[[Session, list[Any]], list[Any]]
    payload: Any
    stage: int = 0


@dataclass
class _Pending:
    work: Callable[[Session], Any]
    order_key: str
    events: int
    batch: Batch | None
    future: asyncio.Future[Any]


@dataclass
class GroupStats:
    """What the committer has done in this process (tests and benchmarks read it)."""

    groups: int = 0
    requests: int = 0
    largest: int = 0
    sizes: deque[int] = field(default_factory=lambda: deque(maxlen=1000))


class GroupCommitter:
    def __init__(
        self, database: Database, gate: DbGate, max_requests: int, max_events: int, lanes: int
    ) -> None:
        self.database = database
        self.gate = gate
        self.max_requests = max_requests
        self.max_events = max_events
        self.lanes = lanes
        self.stats = GroupStats()
        self._queue: deque[_Pending] = deque()
        self._active = 0  # writer tasks running; changed only between awaits, so never stale
        self._writers: set[asyncio.Task[None]] = set()  # strong references until they finish

    async def submit(
        self, work: Callable[[Session], T], order_key: str = "", events: int = 0, batch: Batch | None = None
    ) -> T:
        """Run `work(session)` (or its share of `batch`) in the next group; returns its result once the
        group has committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(work, order_key, events, batch, future))
        if self._active < self.lanes:
            self._active += 1
            task = asyncio.create_task(self._write_while_queued())
            self._writers.add(task)
            task.add_done_callback(self._writers.discard)
        return await future

    async def _write_while_queued(self) -> None:
        try:
            await self._write_groups()
        finally:
            self._active -= 1  # no await between the last empty-queue check and here

    async def _write_groups(self) -> None:
        while self._queue:
            group: list[_Pending] = []
            try:
                async with self.gate.admit(write=True):
                    group = self._take()  # after admission: whatever queued while we waited joins
                    if not group:
                        return
                    outcomes = await run_in_threadpool(self._write, group)
            except BaseException as exc:  # the group as a whole failed: nothing of it was stored
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError())
                if not isinstance(exc, Exception):
                    raise
                continue
            self._count(len(group))
            for pending, (ok, value) in zip(group, outcomes, strict=True):
                if pending.future.done():  # the client went away; its rows are stored all the same
                    continue
                if ok:
                    pending.future.set_result(value)
                else:
                    pending.future.set_exception(value)

    def _take(self) -> list[_Pending]:
        group: list[_Pending] = []
        events = 0
        while self._queue and len(group) < self.max_requests:
            if group and events + self._queue[0].events > self.max_events:
                break
            pending = self._queue.popleft()
            group.append(pending)
            events += pending.events
        return group

    def _write(self, group: list[_Pending]) -> list[tuple[bool, Any]]:
        """In a thread: the whole group in one transaction; each request (or batch) in a savepoint."""
        outcomes: list[tuple[bool, Any]] = [(False, None)] * len(group)
        singles = [i for i, pending in enumerate(group) if pending.batch is None]
        batches: dict[str, list[int]] = {}
        for i, pending in enumerate(group):
            if pending.batch is not None:
                batches.setdefault(pending.batch.kind, []).append(i)
        with self.database.scope() as session:
            if len(group) == 1:  # alone: no savepoint; its error rolls back the transaction, which is its own
                outcomes[0] = self._write_alone(session, group[0])
                return outcomes
            self._write_each(session, group, singles, outcomes)
            refused: list[int] = []
            for indexes in sorted(batches.values(), key=lambda indexes: self._stage(group, indexes)):
                if not self._write_batch(session, group, indexes, outcomes):
                    refused.extend(indexes)
            self._write_each(session, group, refused, outcomes)
        return outcomes

    @staticmethod
    def _stage(group: list[_Pending], indexes: list[int]) -> int:
        batch = group[indexes[0]].batch
        return batch.stage if batch is not None else 0

    @staticmethod
    def _write_alone(session: Session, lone: _Pending) -> tuple[bool, Any]:
        if lone.batch is not None:
            try:
                result = lone.batch.write_all(session, [lone.batch.payload])[0]
                return (not isinstance(result, Exception), result)
            except OperationalError:
                raise
            except Exception as exc:  # refused (a race with another process): its own work, from scratch
                log.info("lone %r request refused (%s); written by its own work", lone.batch.kind, exc)
                session.rollback()
        return (True, lone.work(session))

    def _write_each(
        self, session: Session, group: list[_Pending], indexes: list[int], outcomes: list[tuple[bool, Any]]
    ) -> None:
        for i in sorted(indexes, key=lambda i: group[i].order_key):  # stable: arrival order per trace
            try:
                with session.begin_nested():
                    outcomes[i] = (True, group[i].work(session))
            except OperationalError:
                raise  # the storage failed, not this request: the whole group fails
            except Exception as exc:  # this request's own failure: its savepoint is rolled back
                outcomes[i] = (False, exc)

    def _write_batch(
        self, session: Session, group: list[_Pending], indexes: list[int], outcomes: list[tuple[bool, Any]]
    ) -> bool:
        batches = [group[i].batch for i in indexes]
        first = batches[0]
        assert first is not None
        try:
            with session.begin_nested():
                results = first.write_all(session, [batch.payload for batch in batches if batch is not None])
        except OperationalError:
            raise
        except Exception as exc:  # refused as a whole (e.g. a concurrent writer won a race): one by one
            log.info("group of %d %r requests refused (%s); one by one", len(indexes), first.kind, exc)
            return False
        for i, result in zip(indexes, results, strict=True):
            outcomes[i] = (not isinstance(result, Exception), result)
        return True

    def _count(self, size: int) -> None:
        self.stats.groups += 1
        self.stats.requests += size
        self.stats.largest = max(self.stats.largest, size)
        self.stats.sizes.append(size)
