"""Assembly of the task kinds: which domain handles which kind of job in the one queue.

The API enqueues (inside its request transaction); workers run what is registered here. `jobs` knows no
domain: each domain registers its own kinds, and later ones (environment builds, exports) add a line.
"""

from __future__ import annotations

import ssl

from bugtrail.config import Settings
from bugtrail.db.engine import Database
from bugtrail.jobs.registry import TaskRegistry
from bugtrail.jobs.worker import Worker
from bugtrail.qa import tasks as qa_tasks
from bugtrail.webhooks import tasks as webhook_tasks
from bugtrail.webhooks.ssrf import Resolver

QA_KINDS = (qa_tasks.QA_RUN,)
DELIVERY_KINDS = (webhook_tasks.DELIVER,)


def build_registry(resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True) -> TaskRegistry:
    registry = TaskRegistry()
    qa_tasks.register(registry)
    webhook_tasks.register(registry, resolver=resolver, verify=verify)
    return registry


def build_worker(
    settings: Settings,
    database: Database,
    kinds: tuple[str, ...] | None = None,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
) -> Worker:
    """A worker for the given kinds (default: every registered kind)."""
    return Worker(settings, database, build_registry(resolver, verify), kinds)
