"""The one durable queue for background work (QA runs, webhook deliveries, ...).

Domains own their task kinds: each registers a handler under a name (`registry.register("qa.run", ...)`)
when the application or a worker is assembled (see `bugtrail.tasks`); `jobs` itself imports no domain.
"""
