"""Pure retry policy: the delay before the next attempt, with jitter, and expiry."""

from __future__ import annotations

import random


def retry_delay(attempts: int, schedule: list[int], rng: random.Random) -> float:
    """Seconds to wait after `attempts` failed attempts: the schedule's step ±10 %."""
    step = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return step * rng.uniform(0.9, 1.1)


def expired(created_at: float, now: float, max_lifetime: int) -> bool:
    return now - created_at >= max_lifetime
