"""Webhooks: admins register URLs; events become durable, signed, retried deliveries.

Public surface used by other domains:
- enqueue_event(session, event, payload): call inside your transaction (flush only); each delivery is a
  "webhook.deliver" job in the one queue (`bugtrail.jobs`), registered by webhooks.tasks.register().
- verify_signature(secret, header, body, tolerance_s): for receivers (see signing.py for the header).
"""

from bugtrail.webhooks.service import WEBHOOK_EVENTS, enqueue_event
from bugtrail.webhooks.signing import SIGNATURE_HEADER, SignatureError, verify_signature

__all__ = [
    "SIGNATURE_HEADER",
    "WEBHOOK_EVENTS",
    "SignatureError",
    "enqueue_event",
    "verify_signature",
]
