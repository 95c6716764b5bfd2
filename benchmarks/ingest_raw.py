"""The raw database ceilings the ingestion benchmark divides by (used by benchmarks/ingest_bench.py).

Both write into bugtrail's own `event` table (created by its migrations: same indexes, same foreign key)
with no HTTP, no validation and no ORM, from rows built before the clock starts:
- single-row commits/s: one INSERT per transaction, each committed (and, on SQLite with
  synchronous=FULL, fsync'd) before the next starts: what one event per request costs the database alone;
- executemany rows/s: 100 rows per transaction, the batch path's ceiling.
SQLite runs with the server's pragmas (WAL, synchronous=FULL, foreign_keys=ON) on the same disk as the
server's database; PostgreSQL runs against the same instance as the server, in a scratch database, with
the instance's settings (synchronous_commit as configured).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

INSERT_EVENT = (
    "INSERT INTO event (trace_id, event_id, seq, event_type, event_timestamp, ts_utc, details,"
    " content_hash, redactions, received_at) VALUES ({marks})"
)
INSERT_TRACE = (
    "INSERT INTO trace (trace_id, developer_id, repo_url, bug_description, status, content_hash,"
    " event_count, created_at, updated_at) VALUES ({marks})"
)


@dataclass(frozen=True)
class RawRate:
    rows: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def _chunks(details: dict[str, Any], trace_id: str, size: int, stamp: Any) -> Iterator[list[tuple[Any, ...]]]:
    """Event rows as the server stores them, `size` at a time: details JSON of the benchmark's size, a
    unique event_id, seq and content hash per row (the details text is shared: the database's cost is its
    bytes, not their variety)."""
    details_json = orjson.dumps(details).decode()
    timestamp = datetime.now(UTC).isoformat()
    seq = 0
    while True:
        chunk = []
        for _ in range(size):
            seq += 1
            event_id = str(uuid.uuid4())
            digest = hashlib.sha256(f"{event_id}{details_json}".encode()).hexdigest()
            chunk.append(
                (trace_id, event_id, seq, "command", timestamp, stamp, details_json, digest, 0, stamp)
            )
        yield chunk


def _timed(
    write: Callable[[list[tuple[Any, ...]]], None], chunks: Iterator[list[tuple[Any, ...]]], seconds: float
) -> RawRate:
    """Write chunk after chunk until the writes took `seconds`. Only the writes are timed: the next chunk
    is built off the clock, so this is the database's cost alone."""
    rows = 0
    spent = 0.0
    while spent < seconds:
        chunk = next(chunks)
        started = time.perf_counter()
        write(chunk)
        spent += time.perf_counter() - started
        rows += len(chunk)
    return RawRate(rows, spent)


def sqlite_ceilings(
    path: Path, details: dict[str, Any], seconds: float, batch: int
) -> tuple[RawRate, RawRate]:
    """(single-row commits, executemany rows) on a fresh SQLite file at `path`."""
    from sqlalchemy import create_engine

    from bugtrail.db.migrate import upgrade

    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)  # the server's own tables and indexes
    engine.dispose()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        singles_trace, batch_trace = _sqlite_traces(conn)
        event_sql = INSERT_EVENT.format(marks=", ".join("?" * 10))

        def commit_each(chunk: list[tuple[Any, ...]]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(event_sql, chunk[0])
            conn.execute("COMMIT")

        def commit_many(chunk: list[tuple[Any, ...]]) -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(event_sql, chunk)
            conn.execute("COMMIT")

        # Naive UTC text: what the server's UtcDateTime columns store on SQLite.
        stamp = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        singles = _timed(commit_each, _chunks(details, singles_trace, 1, stamp), seconds)
        many = _timed(commit_many, _chunks(details, batch_trace, batch, stamp), seconds)
        return singles, many
    finally:
        conn.close()


def _sqlite_traces(conn: sqlite3.Connection) -> tuple[str, str]:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    ids = (str(uuid.uuid4()), str(uuid.uuid4()))
    conn.execute("BEGIN IMMEDIATE")
    for trace_id in ids:
        conn.execute(
            INSERT_TRACE.format(marks=", ".join("?" * 9)),
            (trace_id, "raw", "https://x", "raw", "pending", "", 0, now, now),
        )
    conn.execute("COMMIT")
    return ids


def postgres_ceilings(
    database_url: str, details: dict[str, Any], seconds: float, batch: int
) -> tuple[RawRate, RawRate]:
    """(single-row commits, executemany rows) through psycopg on one connection to a scratch database."""
    import psycopg
    from sqlalchemy import create_engine, make_url

    from bugtrail.db.migrate import upgrade

    engine = create_engine(database_url)
    upgrade(engine)
    engine.dispose()
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    event_sql = INSERT_EVENT.format(marks=", ".join(["%s"] * 10))
    with psycopg.connect(dsn) as conn:
        now = datetime.now(UTC)
        ids = (str(uuid.uuid4()), str(uuid.uuid4()))
        for trace_id in ids:
            conn.execute(
                INSERT_TRACE.format(marks=", ".join(["%s"] * 9)),
                (trace_id, "raw", "https://x", "raw", "pending", "", 0, now, now),
            )
        conn.commit()

        def commit_each(chunk: list[tuple[Any, ...]]) -> None:
            conn.execute(event_sql, chunk[0])
            conn.commit()

        def commit_many(chunk: list[tuple[Any, ...]]) -> None:
            with conn.cursor() as cursor:
                cursor.executemany(event_sql, chunk)
            conn.commit()

        stamp = now.replace(tzinfo=None)  # naive UTC, as UtcDateTime stores it
        singles = _timed(commit_each, _chunks(details, ids[0], 1, stamp), seconds)
        many = _timed(commit_many, _chunks(details, ids[1], batch, stamp), seconds)
        return singles, many
