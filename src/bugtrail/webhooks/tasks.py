"""The webhooks domain's task kind: one "webhook.deliver" job per delivery row, run by the one worker loop.

The delivery row is the record admins see (state, attempts, last status); the job drives claiming, the
lease and retries. The row's update and the job's settlement are one transaction, so a worker that lost
its lease records nothing. Jobs carry the receiver (scheme://host:port) as their concurrency key: at most
`webhook_per_receiver_limit` attempts to one receiver are in flight, so a slow receiver holds a slot or two,
never all of them.
"""

from __future__ import annotations

import logging
import ssl
from datetime import timedelta
from urllib.parse import urlsplit

from bugtrail.config import Settings
from bugtrail.db.models import utcnow
from bugtrail.jobs import repository as jobs
from bugtrail.jobs.registry import TaskRegistry
from bugtrail.jobs.task import JobContext, TaskPolicy
from bugtrail.webhooks import repository
from bugtrail.webhooks.delivery import Attempt, Outcome, SendLimits, delivery_body, send
from bugtrail.webhooks.ssrf import DestinationPolicy, Resolver

DELIVER = "webhook.deliver"
RETRY_JITTER = 0.25  # deliveries that failed together (a receiver outage) spread their retries

log = logging.getLogger(__name__)


def receiver_key(url: str) -> str:
    """The concurrency key of a receiver: deliveries to one scheme://host:port share a limit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"webhook:{scheme}://{(parts.hostname or '').lower()}:{port}"


def delivery_policy(settings: Settings) -> TaskPolicy:
    _warn_deprecated(settings)
    return TaskPolicy(
        # A heartbeat renews it; it only matters when a sender dies mid-attempt (kill -9).
        lease_s=max(30.0, 3 * settings.webhook_timeout_s),
        retry_base_s=settings.webhook_retry_base_s or settings.job_retry_base_s,
        retry_max_s=settings.webhook_retry_max_s or settings.job_retry_max_s,
        retry_jitter=RETRY_JITTER,
        concurrency=max(1, settings.webhook_concurrency),
        per_key_limit=max(1, settings.webhook_per_receiver_limit),
        max_attempts=settings.webhook_max_attempts,
    )


def _warn_deprecated(settings: Settings) -> None:
    for name, replacement in (
        ("webhook_retry_base_s", "job_retry_base_s"),
        ("webhook_retry_max_s", "job_retry_max_s"),
        ("webhook_poll_s", "worker_poll_s"),
        ("webhook_lease_s", "webhook_timeout_s (the lease follows it)"),
    ):
        if getattr(settings, name) is not None:
            log.warning("BUGTRAIL_%s is deprecated; use BUGTRAIL_%s", name.upper(), replacement.upper())


class DeliverWebhook:
    """The handler; tests inject a resolver and a TLS trust for receivers on 127.0.0.1."""

    def __init__(self, resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True) -> None:
        self.resolver = resolver
        self.verify = verify

    def __call__(self, context: JobContext) -> None:
        attempt = self.load(context)
        if attempt is None:
            # The webhook was removed (its deliveries with it), or the row was settled already.
            with context.database.scope() as session:
                context.finish(session, jobs.DONE, "delivery no longer pending")
            return
        settings = context.settings
        outcome = send(
            attempt,
            DestinationPolicy.from_settings(settings, self.resolver),
            SendLimits(settings.webhook_timeout_s, settings.webhook_max_response_bytes),
            self.verify,
        )
        self.record(context, outcome)

    @staticmethod
    def load(context: JobContext) -> Attempt | None:
        delivery_id = int(context.job.payload.get("delivery_id", 0))
        with context.database.scope(read_only=True) as session:
            loaded = repository.load_delivery(session, delivery_id)
            if loaded is None or loaded[0].state != "pending":
                return None
            delivery, webhook = loaded
            created = delivery.created_at.isoformat().replace("+00:00", "Z")  # aware UTC (UtcDateTime)
            return Attempt(
                delivery_id=delivery.id,
                event=delivery.event,
                url=webhook.url,
                secret=webhook.secret,
                body=delivery_body(delivery.id, delivery.event, created, delivery.payload),
            )

    @staticmethod
    def record(context: JobContext, outcome: Outcome) -> None:
        job = context.job
        delivery_id = int(job.payload["delivery_id"])
        with context.database.scope() as session:
            if outcome.delivered:
                context.finish(session)
                repository.record_attempt(
                    session, delivery_id, job.attempts, state="delivered", status_code=outcome.status_code
                )
            elif outcome.retryable and job.attempts < job.max_attempts:
                delay = context.retry(session, outcome.error or "failed")
                repository.record_attempt(
                    session,
                    delivery_id,
                    job.attempts,
                    state="pending",
                    status_code=outcome.status_code,
                    error=outcome.error,
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                )
            else:
                context.finish(session, jobs.FAILED, outcome.error)
                repository.record_attempt(
                    session,
                    delivery_id,
                    job.attempts,
                    state="failed",
                    status_code=outcome.status_code,
                    error=outcome.error,
                )
        if not outcome.delivered:
            log.info("webhook delivery %s attempt %s failed: %s", delivery_id, job.attempts, outcome.error)


def register(
    registry: TaskRegistry, resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True
) -> None:
    registry.register(DELIVER, DeliverWebhook(resolver, verify), delivery_policy)
