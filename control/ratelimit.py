"""Per-caller token buckets for the HTTP API: `rate` tokens a second up to `burst`, one a request.

`TokenBuckets` keeps them in memory (one node, SQLite), keyed by principal (or client address),
at most `max_buckets` of them: the least recently used is forgotten first, which only ever gives
a caller a full bucket again. On PostgreSQL the nodes share them (control/ratelimit_sql.py).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple, Protocol

MAX_BUCKETS = 10_000


class Decision(NamedTuple):
    """One request's verdict and what the X-RateLimit-* headers say about it."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # Unix seconds when the bucket is full again
    retry_after: int  # seconds until one token is back (0 when allowed)


def refill(tokens: float, elapsed: float, rate: float, burst: int) -> float:
    """Tokens after `elapsed` seconds; a clock stepping back adds nothing."""
    return min(float(burst), tokens + max(elapsed, 0.0) * rate)


def decide(tokens: float, now: float, rate: float, burst: int) -> tuple[float, Decision]:
    """Spend one token if there is one: (tokens left, the decision)."""
    allowed = tokens >= 1.0
    left = tokens - 1.0 if allowed else tokens
    return left, verdict(left, allowed, now, rate, burst)


def verdict(left: float, allowed: bool, now: float, rate: float, burst: int) -> Decision:
    """The decision (and its headers) once `allowed` is known and `left` tokens remain."""
    reset_at = math.ceil(now + (burst - left) / rate)
    retry_after = 0 if allowed else max(1, math.ceil((1.0 - left) / rate))
    return Decision(allowed, burst, int(left), reset_at, retry_after)


class RateLimiter(Protocol):
    """What the HTTP edge asks once a request: spend one of `key`'s tokens, if it has one;
    and a reload: new limits from each caller's next request."""

    async def acquire(self, key: str) -> Decision: ...

    def configure(self, rate: float, burst: int) -> None: ...


class TokenBuckets:
    """The buckets of every caller seen recently, owned by the HTTP edge."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if rate <= 0 or burst < 1 or max_buckets < 1:
            raise ValueError("rate, burst and max_buckets must be positive")
        self.rate, self.burst, self._max, self._clock = rate, burst, max_buckets, clock
        # key → (tokens, time of last update); order is recency of use.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def configure(self, rate: float, burst: int) -> None:
        """New rate and burst for every caller from their next request (a reload); a bucket
        fuller than the new burst is cut down to it then."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate, self.burst = rate, burst

    async def acquire(self, key: str) -> Decision:
        return self.take(key)

    def take(self, key: str) -> Decision:
        now = self._clock()
        state = self._buckets.pop(key, None)  # re-inserted below: the most recently used
        if state is None:
            tokens = float(self.burst)
        else:
            tokens = refill(state[0], now - state[1], self.rate, self.burst)
        tokens, decision = decide(tokens, now, self.rate, self.burst)
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return decision
