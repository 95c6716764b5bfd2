"""The one backoff formula shared by every task kind."""

from __future__ import annotations

from bugtrail.jobs.backoff import retry_delay_s


def test_doubles_from_the_base_and_stops_at_the_cap() -> None:
    delays = [retry_delay_s(10, 60, attempts) for attempts in range(1, 6)]
    assert delays == [10, 20, 40, 60, 60]
    assert retry_delay_s(10, 60, 0) == 10  # no attempt yet counts as the first


def test_jitter_only_adds_up_to_its_fraction() -> None:
    assert retry_delay_s(4, 100, 2, jitter=0.25, rand=lambda: 0.0) == 8
    assert retry_delay_s(4, 100, 2, jitter=0.25, rand=lambda: 1.0) == 10
    assert retry_delay_s(4, 5, 3, jitter=0.5, rand=lambda: 1.0) == 7.5  # jitter applies after the cap
