"""Hostile webhook receivers on 127.0.0.1: a 400 MiB answer, a drip-fed answer, one that hangs.

Delivery cost is bounded (a few KiB read, one deadline per attempt) and a slow receiver never delays the
deliveries to others.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import WebhookDelivery
from bugtrail.jobs.worker import EmbeddedWorker
from bugtrail.tasks import DELIVERY_KINDS, build_worker
from bugtrail.webhooks import enqueue_event
from bugtrail.webhooks import repository as webhook_repo
from bugtrail.webhooks.service import register_webhook
from tests.support.receivers import RawReceiver, drip_answer, hang_answer, huge_answer, ok_answer

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'bugtrail.db'}"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allow_private": ["127.0.0.1"],
            "webhook_timeout_s": 1.5,
            "job_retry_base_s": 0.05,
            "job_retry_max_s": 0.1,
            "worker_poll_s": 0.05,
        }
    )


def register(database: Database, url: str) -> int:
    with database.scope() as session:
        return register_webhook(session, database.settings, url, ["qa.completed"], "admin", SECRET).id


def enqueue(database: Database, count: int = 1) -> None:
    with database.scope() as session:
        for i in range(count):
            enqueue_event(session, "qa.completed", {"trace_id": f"t-{i}"})


def deliveries(database: Database, webhook_id: int) -> list[WebhookDelivery]:
    with database.scope(read_only=True) as session:
        return webhook_repo.list_deliveries(session, webhook_id)


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def current_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_a_400_mib_answer_is_not_read_and_the_delivery_completes(database: Database) -> None:
    with RawReceiver(huge_answer([500, 200])) as receiver:
        webhook_id = register(database, receiver.url)
        enqueue(database)
        worker = build_worker(database.settings, database, DELIVERY_KINDS)
        baseline = current_rss_kib()
        Path("/proc/self/clear_refs").write_text("5")  # restart the peak-RSS (VmHWM) count here
        started = time.monotonic()
        assert worker.run_pending() == 1
        [delivery] = deliveries(database, webhook_id)
        assert delivery.state == "pending" and delivery.last_status_code == 500
        # The error keeps a short head of the answer, never the 400 MiB.
        assert delivery.last_error is not None and delivery.last_error.startswith("HTTP 500: xxx")
        assert len(delivery.last_error) < 300
        time.sleep(0.2)  # past the backoff
        assert worker.run_pending() == 1
        growth_mib = (peak_rss_kib() - baseline) / 1024
        [delivery] = deliveries(database, webhook_id)
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
        assert len(receiver.requests) == 2
        assert growth_mib < 64, f"sender's peak RSS grew by {growth_mib:.0f} MiB for a 400 MiB answer"
        assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("prefix", "drip", "status"),
    [
        (b"", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None),  # the status line itself, dripped
        (b"HTTP/1.1 503 Busy\r\nContent-Length: 100000\r\n\r\n", b"y" * 100_000, 503),  # the error body
    ],
    ids=["drip-fed-headers", "drip-fed-body"],
)
def test_a_drip_fed_answer_is_cut_off_at_the_deadline(
    database: Database, prefix: bytes, drip: bytes, status: int | None
) -> None:
    # One byte every 0.2 s: every read beats any per-read timeout; only a total deadline ends it.
    with RawReceiver(drip_answer(prefix, drip, 0.2)) as receiver:
        webhook_id = register(database, receiver.url)
        enqueue(database)
        started = time.monotonic()
        assert build_worker(database.settings, database, DELIVERY_KINDS).run_pending() == 1
        elapsed = time.monotonic() - started
        assert len(receiver.requests) == 1
    [delivery] = deliveries(database, webhook_id)
    assert delivery.state == "pending" and delivery.attempts == 1  # retried later
    assert delivery.last_status_code == status
    if status is None:
        assert "deadline" in (delivery.last_error or "")
    else:
        assert (delivery.last_error or "").startswith("HTTP 503: y")
    assert 1.4 <= elapsed < 3.0, f"attempt took {elapsed:.1f} s with a 1.5 s deadline"


def test_a_hanging_receiver_does_not_delay_deliveries_to_another(database: Database) -> None:
    settings = database.settings.model_copy(update={"webhook_timeout_s": 4.0})
    with RawReceiver(hang_answer) as slow, RawReceiver(ok_answer) as fast:
        slow_id = register(database, slow.url)
        with database.scope() as session:  # 6 deliveries to the slow receiver, queued first
            for i in range(6):
                enqueue_event(session, "qa.completed", {"trace_id": f"slow-{i}"})
        fast_id = register(database, fast.url)
        with database.scope() as session:
            for i in range(3):
                # Only the fast webhook is new; the slow one gets these too, queued behind its first six.
                enqueue_event(session, "qa.completed", {"trace_id": f"fast-{i}"})
        worker = build_worker(settings, database, DELIVERY_KINDS)
        started = time.monotonic()
        embedded = EmbeddedWorker(worker).start()
        try:
            deadline = started + 10
            while len(fast.requests) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            arrived = [at - started for at, _ in fast.requests]
            assert len(arrived) == 3, arrived
            # The slow receiver's attempts last 4 s each; the fast ones did not wait for any of them.
            assert max(arrived) < 2.0, arrived
            # Per-receiver limit (2): the slow receiver never held more than two connections at once.
            assert 1 <= len(slow.requests) <= 2
        finally:
            worker.stop()
            embedded.stop(timeout=15)
    assert {d.state for d in deliveries(database, fast_id)} == {"delivered"}
    assert all(d.state == "pending" for d in deliveries(database, slow_id))
