"""Webhooks: signed deliveries to a receiver on 127.0.0.1, retries until it is up, refused destinations."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime

import pytest

from bugtrail.errors import InvalidInput
from bugtrail.jobs.worker import EmbeddedWorker, Worker
from bugtrail.tasks import DELIVERY_KINDS, build_worker
from bugtrail.webhooks import enqueue_event, verify_signature
from bugtrail.webhooks import repository as webhook_repo
from bugtrail.webhooks.service import register_webhook
from bugtrail.webhooks.signing import SignatureError, signature_header
from bugtrail.webhooks.ssrf import DestinationPolicy, RefusedDestination
from tests.support.receivers import Receiver

SECRET = "s3cret-s3cret-s3cret"


@pytest.fixture
def settings(settings):
    return settings.model_copy(
        update={
            "webhook_allow_private": ["127.0.0.1"],
            "job_retry_base_s": 0.05,
            "job_retry_max_s": 0.2,
            "webhook_max_attempts": 5,
        }
    )


@pytest.fixture
def db(database):
    return database


def deliverer(db, settings=None, resolver=None) -> Worker:  # type: ignore[no-untyped-def]
    """The one worker loop, running webhook deliveries only (what `serve` embeds)."""
    return build_worker(settings or db.settings, db, kinds=DELIVERY_KINDS, resolver=resolver)


def _register(db, url: str, events: list[str] | None = None) -> int:
    with db.scope() as s:
        return register_webhook(s, db.settings, url, events or ["trace.finalized"], "admin", SECRET).id


def _deliveries(db, webhook_id: int):
    with db.scope(read_only=True) as s:
        return webhook_repo.list_deliveries(s, webhook_id)


def test_receiver_gets_signed_delivery(db, receiver):
    webhook_id = _register(db, receiver.url, ["trace.finalized", "qa.completed"])
    other = _register(db, receiver.url + "?only=qa", ["qa.failed"])
    with db.scope() as s:
        enqueue_event(s, "trace.finalized", {"trace_id": "t-1", "status": "queued"})
    assert deliverer(db).run_pending() == 1
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert verify_signature(SECRET, headers["x-bugtrail-signature"], request["body"]) > 0
    with pytest.raises(SignatureError):
        verify_signature("wrong-secret-wrong", headers["x-bugtrail-signature"], request["body"])
    with pytest.raises(SignatureError):
        verify_signature(SECRET, headers["x-bugtrail-signature"], request["body"] + b" ")
    body = json.loads(request["body"])
    assert body["event"] == "trace.finalized" and body["data"] == {"trace_id": "t-1", "status": "queued"}
    assert body["created_at"].endswith("Z") and datetime.fromisoformat(body["created_at"]).tzinfo == UTC
    assert headers["x-bugtrail-event"] == "trace.finalized"
    [delivery] = _deliveries(db, webhook_id)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("delivered", 1, 200)
    assert _deliveries(db, other) == []  # not subscribed to trace.finalized


def test_rolled_back_transaction_enqueues_nothing(db, receiver):
    webhook_id = _register(db, receiver.url)
    with pytest.raises(RuntimeError), db.scope() as s:
        enqueue_event(s, "trace.finalized", {"trace_id": "t-2"})
        raise RuntimeError("caller failed after enqueueing")
    assert _deliveries(db, webhook_id) == []


def test_down_receiver_is_retried_with_backoff_then_succeeds(db):
    with socket.socket() as probe:  # a free port with nothing listening yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook_id = _register(db, f"http://127.0.0.1:{port}/hook")
    with db.scope() as s:
        enqueue_event(s, "trace.finalized", {"trace_id": "t-3"})
    # A backoff long enough that "not due yet" below holds on a loaded machine.
    slow_backoff = {"job_retry_base_s": 2.0, "job_retry_max_s": 4.0}
    dispatcher = deliverer(db, db.settings.model_copy(update=slow_backoff))
    assert dispatcher.run_pending() == 1
    [delivery] = _deliveries(db, webhook_id)
    assert delivery.state == "pending" and delivery.attempts == 1 and "ConnectError" in delivery.last_error
    assert dispatcher.run_pending() == 0  # backing off: not due yet
    receiver = Receiver(port=port, statuses=[503])
    try:
        deadline = time.monotonic() + 30  # retries after 2 s, then 4 s
        while time.monotonic() < deadline and _deliveries(db, webhook_id)[0].state != "delivered":
            dispatcher.run_pending()
            time.sleep(0.05)
        [delivery] = _deliveries(db, webhook_id)
        assert delivery.state == "delivered"
        assert delivery.attempts == 3  # refused, 503, 200
        assert delivery.last_status_code == 200 and delivery.last_error is None
        assert len(receiver.requests) == 2
    finally:
        receiver.close()


def test_worker_thread_delivers_and_stops(db, receiver):
    _register(db, receiver.url, ["qa.completed"])
    handle = EmbeddedWorker(deliverer(db, db.settings.model_copy(update={"worker_poll_s": 0.05}))).start()
    try:
        with db.scope() as s:
            enqueue_event(s, "qa.completed", {"trace_id": "t-4", "resolved": True})
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not receiver.requests:
            time.sleep(0.05)
        assert len(receiver.requests) == 1
    finally:
        handle.stop()


def test_gives_up_after_max_attempts_and_does_not_follow_redirects(db, receiver):
    receiver.statuses = [302] + [500] * 10
    webhook_id = _register(db, receiver.url)
    with db.scope() as s:
        enqueue_event(s, "trace.finalized", {"trace_id": "t-5"})
    dispatcher = deliverer(db)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _deliveries(db, webhook_id)[0].state == "pending":
        dispatcher.run_pending()
        time.sleep(0.05)
    [delivery] = _deliveries(db, webhook_id)
    assert delivery.state == "failed" and delivery.attempts == 5 and delivery.last_status_code == 500
    assert [r["path"] for r in receiver.requests] == ["/hook"] * 5  # the redirect target was never fetched


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8080/hook",
        "http://10.1.2.3/hook",
        "http://[::1]:9/h",
        "http://169.254.169.254/latest",
        "http://0.0.0.0/",
        "ftp://127.0.0.1/x",
        "http://user:pw@127.0.0.1/x",
        "http://[::ffff:10.0.0.1]/",
    ],
)
def test_registration_refuses_private_and_odd_destinations(db, url):
    with pytest.raises(InvalidInput), db.scope() as s:
        register_webhook(s, db.settings, url, ["trace.finalized"], "admin", SECRET)


def test_refused_address_is_never_contacted_even_if_dns_changes(db, receiver):
    """A hostname that resolved publicly at registration and privately at delivery (rebinding)."""
    answers = {"hooks.example.test": ["93.184.216.34"]}
    with db.scope() as s:
        webhook = register_webhook(
            s,
            db.settings,
            "http://hooks.example.test/h",
            ["qa.failed"],
            "admin",
            SECRET,
            resolver=lambda host, port: answers[host],
        )
        webhook_id = webhook.id
        enqueue_event(s, "qa.failed", {"trace_id": "t-6"})
    answers["hooks.example.test"] = ["10.0.0.7"]
    connects: list[object] = []
    dispatcher = deliverer(db, resolver=lambda host, port: answers[host])
    original = socket.create_connection
    try:
        socket.create_connection = lambda *a, **k: connects.append(a) or original(*a, **k)  # type: ignore
        assert dispatcher.run_pending() == 1
    finally:
        socket.create_connection = original
    [delivery] = _deliveries(db, webhook_id)
    assert delivery.state == "failed" and delivery.attempts == 1  # policy refusals are not retried
    assert "10.0.0.7" in delivery.last_error
    assert connects == [] and receiver.requests == []


def test_policy_checks_every_resolved_address_and_pins_the_checked_one():
    policy = DestinationPolicy([], ["127.0.0.1"], resolver=lambda h, p: ["127.0.0.1", "::1"])
    with pytest.raises(RefusedDestination):
        policy.resolve("http://localhost:8000/x")  # ::1 is not allowed
    policy = DestinationPolicy([], ["127.0.0.1"], resolver=lambda h, p: ["127.0.0.1"])
    target = policy.resolve("http://localhost:8000/x?a=1")
    assert target.pinned_url == "http://127.0.0.1:8000/x?a=1" and target.host_header == "localhost:8000"
    allowlisted = DestinationPolicy(
        ["https://hooks.example.com/"], [], resolver=lambda h, p: ["93.184.216.34"]
    )
    assert allowlisted.resolve("https://hooks.example.com/a").ip == "93.184.216.34"
    with pytest.raises(RefusedDestination):
        allowlisted.resolve("https://evil.example.com/a")
    cidr = DestinationPolicy([], ["10.0.0.0/8"], resolver=lambda h, p: ["10.9.9.9"])
    assert cidr.resolve("http://internal.test/").ip == "10.9.9.9"


def test_signature_rejects_stale_timestamps():
    body = b'{"x":1}'
    header = signature_header(SECRET, body, timestamp=1_000_000)
    assert verify_signature(SECRET, header, body, now=1_000_100) == 1_000_000
    with pytest.raises(SignatureError):
        verify_signature(SECRET, header, body, tolerance_s=300, now=1_000_400)
    with pytest.raises(SignatureError):
        verify_signature(SECRET, "garbage", body)


def test_a_removed_webhooks_queued_deliveries_are_dropped_unsent(db, receiver):
    from bugtrail.db.models import Job
    from bugtrail.webhooks.service import remove_webhook

    webhook_id = _register(db, receiver.url)
    with db.scope() as s:
        enqueue_event(s, "trace.finalized", {"trace_id": "t-7"})
    with db.scope() as s:
        remove_webhook(s, webhook_id)
    assert deliverer(db).run_pending() == 1
    assert receiver.requests == []
    with db.scope(read_only=True) as s:
        [job] = s.query(Job).all()
        assert (job.kind, job.state) == ("webhook.deliver", "done")
        assert job.last_error == "delivery no longer pending"
