"""The task kinds a process can run, registered by their domains at assembly (`bugtrail.tasks`)."""

from __future__ import annotations

from bugtrail.jobs.task import Handler, OnClaim, OnStart, PolicyFactory, TaskKind


class TaskRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, TaskKind] = {}

    def register(
        self,
        name: str,
        handler: Handler,
        policy: PolicyFactory,
        *,
        on_claim: OnClaim | None = None,
        on_worker_start: OnStart | None = None,
    ) -> TaskKind:
        if name in self._kinds:
            raise ValueError(f"task kind {name!r} is already registered")
        if not name or len(name) > 32:
            raise ValueError(f"task kind name must be 1-32 characters: {name!r}")
        kind = TaskKind(name, handler, policy, on_claim, on_worker_start)
        self._kinds[name] = kind
        return kind

    def get(self, name: str) -> TaskKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise KeyError(f"no handler registered for task kind {name!r}") from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds
