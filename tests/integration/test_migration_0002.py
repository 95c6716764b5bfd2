"""Migration 0002: rows written by 0001's code survive, and pending webhook deliveries are still delivered."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.migrate import current_revision, upgrade
from bugtrail.db.models import Job, WebhookDelivery, utcnow
from bugtrail.tasks import DELIVERY_KINDS, build_worker
from tests.conftest import POSTGRES_ADMIN_URL
from tests.support.receivers import RawReceiver, ok_answer

SEED_0001 = [
    "INSERT INTO trace (trace_id, developer_id, repo_url, bug_description, status, content_hash,"
    " event_count, created_at, updated_at)"
    " VALUES ('t-1', 'alice', 'https://github.com/a/b', 'bug', 'queued', :h, 0, :now, :now)",
    "INSERT INTO job (kind, trace_id, state, attempts, max_attempts, run_after, created_at)"
    " VALUES ('qa', 't-1', 'queued', 0, 3, :now, :now)",
    "INSERT INTO webhook (id, url, secret, events, active, created_at)"
    " VALUES (1, :url, 'whsec_0123456789abcdef', '[\"qa.completed\"]', true, :now)",
]
DELIVERY_0001 = (
    "INSERT INTO webhook_delivery (id, webhook_id, event, payload, state, attempts, next_attempt_at,"
    " created_at) VALUES (:id, 1, 'qa.completed', '{\"trace_id\": \"t-1\"}', :state, :attempts, :now, :now)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (the shared test databases are already at head)."""
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        yield f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"
        return
    request.getfixturevalue("postgres_database_url")  # skips (or fails in CI) without PostgreSQL
    name = f"bugtrail_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_moves_pending_deliveries_into_the_queue(fresh_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=fresh_url,
        embedded_worker=False,
        webhook_allow_private="127.0.0.1",
        db_pool_size=2,
    )
    database = Database(settings)
    try:
        upgrade(database.engine, "0001")
        with RawReceiver(ok_answer) as receiver:
            now = utcnow()
            with database.engine.begin() as conn:  # rows as 0001's code wrote them
                for statement in SEED_0001:
                    conn.execute(text(statement), {"h": "0" * 64, "now": now, "url": receiver.url})
                for delivery_id, state, attempts in (
                    (1, "pending", 2),
                    (2, "delivered", 1),
                    (3, "failed", 8),
                ):
                    conn.execute(
                        text(DELIVERY_0001),
                        {"id": delivery_id, "state": state, "attempts": attempts, "now": now},
                    )
            upgrade(database.engine, "0002")
            assert current_revision(database.engine) == "0002"
            upgrade(database.engine)  # and on to head: the chain stays linear
            with database.scope(read_only=True) as session:
                jobs = {job.kind: job for job in session.query(Job)}
                assert set(jobs) == {"qa.run", "webhook.deliver"}
                moved = jobs["webhook.deliver"]
                assert (moved.state, moved.attempts, moved.trace_id) == ("queued", 2, None)
                assert moved.payload == {"delivery_id": 1}
                assert moved.concurrency_key == f"webhook:http://127.0.0.1:{receiver.port}"
            assert build_worker(settings, database, DELIVERY_KINDS).run_pending() == 1
            assert len(receiver.requests) == 1
            with database.scope(read_only=True) as session:
                delivery = session.get(WebhookDelivery, 1)
                assert delivery is not None
                assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
                assert session.get(WebhookDelivery, 2).state == "delivered"  # type: ignore[union-attr]
    finally:
        database.dispose()
