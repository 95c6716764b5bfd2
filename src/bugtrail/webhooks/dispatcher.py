"""Deliver pending webhook rows: claim, sign, POST to the pinned address, record, back off and retry."""

from __future__ import annotations

import json
import logging
import random
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.db.models import Webhook, WebhookDelivery, utcnow
from bugtrail.webhooks import repository
from bugtrail.webhooks.signing import SIGNATURE_HEADER, signature_header
from bugtrail.webhooks.ssrf import DestinationPolicy, RefusedDestination, Resolver

log = logging.getLogger(__name__)

BATCH_SIZE = 20
ERROR_TEXT_LIMIT = 500


@dataclass
class Outcome:
    delivered: bool
    status_code: int | None
    error: str | None
    retryable: bool


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body; built from the stored row so every retry sends the same bytes."""
    document = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat().replace("+00:00", "Z"),  # aware UTC (UtcDateTime)
        "data": delivery.payload,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def backoff_s(settings: Settings, attempts: int) -> float:
    base = settings.webhook_retry_base_s * (2 ** max(attempts - 1, 0))
    # Jitter (+0..25%) spreads retries from many deliveries that failed together.
    return min(base, settings.webhook_retry_max_s) * (1 + random.random() * 0.25)


class WebhookDispatcher:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.settings = settings
        self.database = database
        self.verify = verify  # TLS trust for receivers (tests pass a context trusting their own CA)
        self.policy = DestinationPolicy.from_settings(settings, resolver)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass (tests call this directly) ------------------------------------------------------
    def run_once(self) -> int:
        """Deliver every delivery that is due now; returns how many were attempted.

        Claimed deliveries are sent by a few threads at once, so one slow or dead receiver (up to
        webhook_timeout_s per attempt) does not hold up the others.
        """
        with self.database.scope(read_only=True) as session:
            due = repository.due_delivery_ids(session, utcnow(), BATCH_SIZE)
        claimed: list[tuple[WebhookDelivery, Webhook]] = []
        for delivery_id, seen_due_at in due:
            with self.database.scope() as session:
                if not repository.claim_delivery(
                    session, delivery_id, seen_due_at, self.settings.webhook_lease_s
                ):
                    continue  # another dispatcher took it
                loaded = repository.load_delivery(session, delivery_id)
            if loaded is not None:
                claimed.append(loaded)
        if not claimed:
            return 0
        workers = max(1, min(self.settings.webhook_concurrency, len(claimed)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook-send") as pool:
            list(pool.map(self._attempt, claimed))
        return len(claimed)

    def _attempt(self, claimed: tuple[WebhookDelivery, Webhook]) -> None:
        delivery, webhook = claimed
        self._record(delivery, self.send(delivery, webhook))

    def send(self, delivery: WebhookDelivery, webhook: Webhook) -> Outcome:
        try:
            target = self.policy.resolve(webhook.url)
        except RefusedDestination as exc:
            return Outcome(False, None, exc.message, retryable=False)
        body = delivery_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "bugtrail-webhooks/1",
            "Host": target.host_header,
            "X-Bugtrail-Event": delivery.event,
            "X-Bugtrail-Delivery": str(delivery.id),
            SIGNATURE_HEADER: signature_header(webhook.secret, body),
        }
        extensions: dict[str, Any] = {}
        if target.scheme == "https":
            # Connect to the checked IP but verify the certificate for (and send SNI of) the hostname.
            extensions["sni_hostname"] = target.host
        try:
            with httpx.Client(
                timeout=self.settings.webhook_timeout_s,
                follow_redirects=False,
                trust_env=False,
                verify=self.verify,
            ) as client:
                response = client.post(
                    target.pinned_url, content=body, headers=headers, extensions=extensions
                )
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT], retryable=True)
        if 200 <= response.status_code < 300:
            return Outcome(True, response.status_code, None, retryable=False)
        # Redirects are not followed (they could point inside the network); they count as failures.
        retryable = (
            response.status_code >= 500
            or response.status_code in (408, 429)
            or (300 <= response.status_code < 400)
        )
        error = f"HTTP {response.status_code}: {response.text[:200]}"
        return Outcome(False, response.status_code, error, retryable=retryable)

    def _record(self, delivery: WebhookDelivery, outcome: Outcome) -> None:
        with self.database.scope() as session:
            if outcome.delivered:
                repository.record_attempt(
                    session, delivery.id, state="delivered", status_code=outcome.status_code, error=None
                )
                return
            attempts = delivery.attempts  # already incremented by the claim
            if outcome.retryable and attempts < self.settings.webhook_max_attempts:
                due = utcnow() + timedelta(seconds=backoff_s(self.settings, attempts))
                repository.record_attempt(
                    session,
                    delivery.id,
                    state="pending",
                    status_code=outcome.status_code,
                    error=outcome.error,
                    next_attempt_at=due,
                )
            else:
                repository.record_attempt(
                    session, delivery.id, state="failed", status_code=outcome.status_code, error=outcome.error
                )
        if not outcome.delivered:
            log.info(
                "webhook delivery %s attempt %s failed: %s", delivery.id, delivery.attempts, outcome.error
            )

    # -- background thread -----------------------------------------------------------------------
    def start(self) -> WebhookDispatcher:
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                attempted = self.run_once()
            except Exception:  # the loop must survive a database hiccup; the row stays due
                log.exception("webhook dispatcher pass failed")
                attempted = 0
            if attempted < BATCH_SIZE:
                self._stop.wait(self.settings.webhook_poll_s)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def start_webhook_dispatcher(
    settings: Settings, database: Database, resolver: Resolver | None = None
) -> WebhookDispatcher:
    """Start the delivery thread (in `bugtrail serve` and the standalone worker); call .stop() on shutdown."""
    return WebhookDispatcher(settings, database, resolver).start()
