"""The one retry backoff formula for every task kind: exponential, capped, optionally jittered."""

from __future__ import annotations

import random
from collections.abc import Callable


def retry_delay_s(
    base_s: float,
    max_s: float,
    attempts: int,
    jitter: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Delay before the next attempt after `attempts` failed ones: base * 2**(attempts-1), capped at max_s.

    Jitter (a fraction, e.g. 0.25 = +0..25%) spreads retries of many jobs that failed together.
    """
    delay = min(base_s * 2 ** max(attempts - 1, 0), max_s)
    return delay * (1 + jitter * rand())
