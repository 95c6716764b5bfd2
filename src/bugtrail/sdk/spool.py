"""The durable client-side queue: every operation is committed (fsync) here before any send.

Like wakatime-cli's offline queue, operations wait on disk and are sent in batches; unlike it, rows are only
deleted after the server acknowledged them (never popped before sending), so a crash or kill -9 at any point
loses nothing, and a resend is harmless because every operation carries a client-generated id the server
deduplicates on. Rows leave in insertion order because the server numbers events in arrival order.

SQLite (WAL, synchronous=FULL) rather than a hand-rolled log: several processes (`bugtrail watch` and
`bugtrail run` in two terminals) append concurrently, and a snapshot must store its edit events and its new
"last recorded tree" in one atomic transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS op (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,              -- create_trace | event | finalize
    trace_id TEXT NOT NULL,
    event_id TEXT,
    body TEXT NOT NULL,              -- the exact JSON sent, so every resend is byte-identical
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    event_id TEXT,
    body TEXT NOT NULL,
    status INTEGER,
    error TEXT,
    rejected_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Op:
    kind: str
    trace_id: str
    body: str
    event_id: str | None = None


@dataclass(frozen=True)
class SpooledOp:
    id: int
    kind: str
    trace_id: str
    event_id: str | None
    body: str
    size: int
    attempts: int


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            str(self.path), timeout=60.0, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # fsync at every commit: acknowledged means on disk
        self._conn.execute("PRAGMA busy_timeout=60000")
        with self.transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: takes the write lock up front so concurrent writers queue instead of failing."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # --- writing -------------------------------------------------------------------------------------------
    def append(self, ops: Sequence[Op], meta: dict[str, str | None] | None = None) -> list[int]:
        """Store ops (and optional meta updates) atomically; returns their row ids. Durable on return."""
        with self.transaction() as conn:
            return self.append_in(conn, ops, meta)

    @staticmethod
    def append_in(
        conn: sqlite3.Connection, ops: Sequence[Op], meta: dict[str, str | None] | None = None
    ) -> list[int]:
        ids = []
        now = time.time()
        for op in ops:
            cursor = conn.execute(
                "INSERT INTO op (kind, trace_id, event_id, body, size, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (op.kind, op.trace_id, op.event_id, op.body, len(op.body.encode("utf-8")), now),
            )
            ids.append(int(cursor.lastrowid or 0))
        for key, value in (meta or {}).items():
            Spool.set_meta_in(conn, key, value)
        return ids

    @staticmethod
    def set_meta_in(conn: sqlite3.Connection, key: str, value: str | None) -> None:
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def set_meta(self, key: str, value: str | None) -> None:
        with self.transaction() as conn:
            self.set_meta_in(conn, key, value)

    def ack(self, ids: Sequence[int]) -> None:
        with self.transaction() as conn:
            conn.executemany("DELETE FROM op WHERE id = ?", [(i,) for i in ids])

    def note_failure(self, ids: Sequence[int], error: str) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE op SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                [(error, i) for i in ids],
            )

    def reject(self, op: SpooledOp, status: int | None, error: str) -> None:
        """Move an op the server refuses for good (422, 409...) aside so it cannot block the queue."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO rejected (kind, trace_id, event_id, body, status, error, rejected_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (op.kind, op.trace_id, op.event_id, op.body, status, error, time.time()),
            )
            conn.execute("DELETE FROM op WHERE id = ?", (op.id,))

    def discard_trace(self, trace_id: str) -> int:
        with self.transaction() as conn:
            return conn.execute("DELETE FROM op WHERE trace_id = ?", (trace_id,)).rowcount

    # --- reading -------------------------------------------------------------------------------------------
    def peek(self, max_ops: int, max_bytes: int) -> list[SpooledOp]:
        """The oldest ops, at most max_ops and about max_bytes (always at least one)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, kind, trace_id, event_id, body, size, attempts FROM op ORDER BY id LIMIT ?",
                (max_ops,),
            ).fetchall()
        result: list[SpooledOp] = []
        total = 0
        for row in rows:
            op = SpooledOp(*row)
            if result and total + op.size > max_bytes:
                break
            result.append(op)
            total += op.size
        return result

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def pending_count(self, trace_id: str | None = None) -> int:
        with self._lock:
            if trace_id is None:
                row = self._conn.execute("SELECT count(*) FROM op").fetchone()
            else:
                row = self._conn.execute("SELECT count(*) FROM op WHERE trace_id = ?", (trace_id,)).fetchone()
        return int(row[0])

    def rejected(self, trace_id: str | None = None) -> list[tuple[str, str | None, int | None, str]]:
        """(kind, event_id, status, error) for every op the server refused."""
        query = "SELECT kind, event_id, status, error FROM rejected"
        args: tuple[str, ...] = ()
        if trace_id is not None:
            query += " WHERE trace_id = ?"
            args = (trace_id,)
        with self._lock:
            return [tuple(row) for row in self._conn.execute(query + " ORDER BY id", args)]

    def last_error(self) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT last_error FROM op WHERE last_error IS NOT NULL ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else str(row[0])
