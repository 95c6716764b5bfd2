"""Engine and session factory: SQLite pragmas (WAL, synchronous=FULL, BEGIN IMMEDIATE) or a PG pool."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from bugtrail.config import Settings

# Execution option that makes an SQLite transaction start with a plain (deferred) BEGIN: used for reads,
# which must not take the write lock. Everything else starts with BEGIN IMMEDIATE so two writers never
# deadlock upgrading a shared lock.
SQLITE_READ_ONLY = {"sqlite_begin": "DEFERRED"}


def json_serializer(value: Any) -> str:
    """JSON columns: orjson (several times faster on the ingestion path), json for what it refuses."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # lone surrogates or exotic types
        return json.dumps(value, ensure_ascii=False)


def make_engine(settings: Settings) -> Engine:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        json_serializer=json_serializer,
    )


def _sqlite_engine(url: str, settings: Settings) -> Engine:
    if ":memory:" not in url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size * 4,
        json_serializer=json_serializer,
    )
    busy_timeout = int(settings.sqlite_busy_timeout_ms)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (the documented pysqlite recipe).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged commit survives power loss, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session], read_only: bool = False) -> Iterator[Session]:
    """The CLI's and the worker's transaction owner: commit on success, roll back on error."""
    session = factory()
    if read_only:
        session.connection(execution_options=SQLITE_READ_ONLY)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """Engine + session factory built from Settings; one per process (app, worker, CLI command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.sessions = make_session_factory(self.engine)

    def scope(self, read_only: bool = False) -> Any:
        return session_scope(self.sessions, read_only=read_only)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """One round trip to the database (health checks); raises whatever the driver raises."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
