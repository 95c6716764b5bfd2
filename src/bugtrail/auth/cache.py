"""An in-process cache of API key -> Principal, so most requests authenticate without touching the database.

Correctness rules (docs/security.md, "API key cache"):
- Only active keys are cached; an unknown or revoked key is looked up every time (a key created in another
  process works at once).
- An entry lives `ttl_s` counted from *before* its database read, so a revoke committed in another process
  is honoured here at most `ttl_s` after its commit.
- A revoke in this process drops the key's entries and leaves a tombstone for its id, before the revoke
  commits: no request running concurrently can put the old principal back. Revocation is one-way, so
  tombstones are kept (one int per revoked key).
- Entries are keyed by the key's sha256, never the plaintext; the size is bounded (oldest dropped first).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from bugtrail.auth.keys import Principal, hash_key


class KeyCache:
    def __init__(
        self, ttl_s: float, max_entries: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, Principal]] = {}  # key hash -> (expires at, principal)
        self._revoked: set[int] = set()
        self._lock = threading.Lock()  # filled from the event loop and from request threads

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0

    def get(self, key: str) -> Principal | None:
        """The cached principal of an active key, or None (not cached: look it up)."""
        if not self.enabled:
            return None
        digest = hash_key(key)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires_at, principal = entry
        if expires_at <= self.clock() or principal.key_id in self._revoked:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return principal

    def started(self) -> float:
        """Call before the database read whose result goes to remember(): the entry's age counts from here."""
        return self.clock()

    def remember(self, key: str, principal: Principal | None, read_started: float) -> Principal | None:
        """Cache what the database said about `key`; returns the principal to use (None for a key revoked
        in this process whose revoke has not committed yet)."""
        if principal is None:
            return None
        with self._lock:
            if principal.key_id in self._revoked:
                return None
            if self.enabled:
                if len(self._entries) >= self.max_entries:
                    self._evict()
                self._entries[hash_key(key)] = (read_started + self.ttl_s, principal)
        return principal

    def revoke(self, key_id: int) -> None:
        """A key was revoked in this process: refuse it from now on, whatever any cached entry says."""
        with self._lock:
            self._revoked.add(key_id)
            for digest in [d for d, (_, p) in self._entries.items() if p.key_id == key_id]:
                del self._entries[digest]

    def _evict(self) -> None:
        now = self.clock()
        for digest in [d for d, (expires_at, _) in self._entries.items() if expires_at <= now]:
            del self._entries[digest]
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest insertion
