"""Background work beside the API in `bugtrail serve`: the one worker loop, embedded in a thread."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database


@contextmanager
def start_services(settings: Settings, database: Database, qa_worker: bool | None = None) -> Iterator[None]:
    """Run the embedded worker: every kind, or only webhook deliveries when QA runs elsewhere
    (`embedded_worker=False`: QA is left to `bugtrail worker` processes). Drains on exit."""
    from bugtrail.jobs.worker import EmbeddedWorker
    from bugtrail.tasks import DELIVERY_KINDS, build_worker

    run_qa = settings.embedded_worker if qa_worker is None else qa_worker
    worker = build_worker(settings, database, kinds=None if run_qa else DELIVERY_KINDS)
    embedded = EmbeddedWorker(worker).start()
    try:
        yield
    finally:
        embedded.stop()
