"""Background services that run beside the API in `bugtrail serve`: the QA worker, webhook deliveries."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bugtrail.config import Settings
    from bugtrail.db.engine import Database

log = logging.getLogger("bugtrail.serve")


@contextmanager
def start_services(settings: Settings, database: Database, qa_worker: bool | None = None) -> Iterator[None]:
    """Start the embedded worker (unless disabled) and the webhook dispatcher; stop them on exit."""
    with ExitStack() as stack:
        if settings.embedded_worker if qa_worker is None else qa_worker:
            _start(stack, "bugtrail.jobs.worker", "start_embedded_worker", settings, database)
        _start(stack, "bugtrail.webhooks", "start_webhook_dispatcher", settings, database)
        yield


def _start(stack: ExitStack, module_name: str, function: str, *args: Any) -> None:
    import importlib

    try:
        module = importlib.import_module(module_name)
        starter = getattr(module, function)
    except (ModuleNotFoundError, AttributeError):
        log.info("%s.%s is not available; not started", module_name, function)
        return
    handle = starter(*args)
    stack.callback(handle.stop)
