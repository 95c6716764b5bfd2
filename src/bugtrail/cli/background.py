"""Background services that run beside the API in `bugtrail serve`: the QA worker, webhook deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database


@contextmanager
def start_services(settings: Settings, database: Database, qa_worker: bool | None = None) -> Iterator[None]:
    """Start the embedded worker (unless disabled) and the webhook dispatcher; stop them on exit."""
    with ExitStack() as stack:
        from bugtrail.jobs.worker import start_embedded_worker
        from bugtrail.webhooks import start_webhook_dispatcher

        if settings.embedded_worker if qa_worker is None else qa_worker:
            stack.callback(start_embedded_worker(settings, database).stop)
        stack.callback(start_webhook_dispatcher(settings, database).stop)
        yield
