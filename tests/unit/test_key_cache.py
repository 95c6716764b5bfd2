"""auth/cache.py: TTL counted from before the database read, tombstones for revoked keys, bounded size."""

from __future__ import annotations

from bugtrail.auth.cache import KeyCache
from bugtrail.auth.keys import Principal


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


ALICE = Principal(key_id=1, developer_id="alice", role="developer")
BOB = Principal(key_id=2, developer_id="bob", role="developer")


def test_an_entry_lives_ttl_from_before_its_read() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=5, clock=clock)
    started = cache.started()
    clock.now += 2  # the database read took 2 s
    assert cache.remember("key-a", ALICE, started) == ALICE
    assert cache.get("key-a") == ALICE
    clock.now += 2.9
    assert cache.get("key-a") == ALICE
    clock.now += 0.2  # 5.1 s after the read started: a revoke committed meanwhile must be seen now
    assert cache.get("key-a") is None
    assert cache.get("unknown") is None


def test_a_revoke_here_wins_over_the_cache_and_over_reads_in_flight() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=60, clock=clock)
    cache.remember("key-a", ALICE, cache.started())
    in_flight = cache.started()  # a lookup that read the key before the revoke committed
    cache.revoke(ALICE.key_id)
    assert cache.get("key-a") is None
    assert cache.remember("key-a", ALICE, in_flight) is None, "the stale read must not be used or cached"
    assert cache.get("key-a") is None
    assert cache.remember("key-b", BOB, cache.started()) == BOB


def test_unknown_keys_are_not_cached_and_size_is_bounded() -> None:
    clock = Clock()
    cache = KeyCache(ttl_s=60, max_entries=3, clock=clock)
    assert cache.remember("nobody", None, cache.started()) is None
    for i in range(10):
        cache.remember(f"key-{i}", Principal(key_id=i + 10, developer_id=f"d{i}", role="developer"), clock())
    assert len(cache._entries) <= 3
    assert cache.get("key-9") is not None and cache.get("key-0") is None  # the oldest went first


def test_ttl_zero_turns_caching_off_but_keeps_revokes() -> None:
    cache = KeyCache(ttl_s=0)
    assert cache.remember("key-a", ALICE, cache.started()) == ALICE
    assert cache.get("key-a") is None
    cache.revoke(ALICE.key_id)
    assert cache.remember("key-a", ALICE, cache.started()) is None
