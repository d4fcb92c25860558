"""HTTP token buckets shared by the nodes of a PostgreSQL deployment: one atomic upsert a
request, the refill computed in SQL exactly as `control.ratelimit.refill` and `decide` do.

`make_limiter` picks these on PostgreSQL and the in-memory buckets on SQLite (one node).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import Float, Table, bindparam, case, delete, func
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import HttpSettings
from control.ratelimit import Decision, RateLimiter, TokenBuckets, verdict
from mta.db.models import RateLimitBucket

log = logging.getLogger(__name__)
BUCKETS = cast(Table, RateLimitBucket.__table__)
PRUNE_EVERY = 1000  # requests (per node) between deletions of buckets that are full again


def take_statement(rate: float, burst: int) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE … RETURNING (tokens left, allowed): a new key
    starts full and spends one; a known one is refilled for the time since its last request
    (never above the burst, nothing for a clock stepping back), then spends one if it can."""
    now = bindparam("now", type_=Float)
    elapsed = func.greatest(now - BUCKETS.c.updated_at, 0.0)
    refilled = func.least(float(burst), BUCKETS.c.tokens + elapsed * rate)
    insert = postgresql.insert(BUCKETS).values(
        key=bindparam("key"), tokens=float(burst) - 1.0, updated_at=now, allowed=True
    )
    return insert.on_conflict_do_update(
        index_elements=[BUCKETS.c.key],
        set_={
            "tokens": case((refilled >= 1.0, refilled - 1.0), else_=refilled),
            "updated_at": now,
            "allowed": refilled >= 1.0,
        },
    ).returning(BUCKETS.c.tokens, BUCKETS.c.allowed)


class SqlTokenBuckets:
    """Every node's buckets in the `rate_limit_buckets` table. When the database does not
    answer, this node's own in-memory buckets decide, so the API keeps its limits."""

    def __init__(
        self,
        engine: AsyncEngine,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.time,
        prune_every: int = PRUNE_EVERY,
    ) -> None:
        # One statement a request, committed on its own: no BEGIN / COMMIT round trips.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._clock = clock
        self._fallback = TokenBuckets(rate, burst, clock=clock)
        self.configure(rate, burst)
        self._taken, self._prune_every = 0, prune_every

    def configure(self, rate: float, burst: int) -> None:
        """A reload: the new limits hold from each caller's next request, on this node."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate and burst must be positive")
        self.rate, self.burst = rate, burst
        self._statement = take_statement(rate, burst)
        self._fallback.configure(rate, burst)

    async def acquire(self, key: str) -> Decision:
        now = self._clock()
        try:
            async with self._engine.connect() as conn:
                left, allowed = (
                    await conn.execute(self._statement, {"key": key, "now": now})
                ).one()
                self._taken += 1
                if self._taken % self._prune_every == 0:
                    await conn.execute(self._prune_statement(now))
        except Exception:  # the database is away: this node's own buckets decide meanwhile
            log.warning("event=rate_limit_database_failed key=%s", key, exc_info=True)
            return self._fallback.take(key)
        return verdict(float(left), bool(allowed), now, self.rate, self.burst)

    def _prune_statement(self, now: float) -> Any:
        """Buckets idle long enough to be full again: deleting one changes nothing."""
        full_after = self.burst / self.rate
        return delete(BUCKETS).where(BUCKETS.c.updated_at < now - full_after - 1.0)


def make_limiter(
    http: HttpSettings, engine: AsyncEngine | None, clock: Callable[[], float] = time.time
) -> RateLimiter:
    """Shared buckets when the nodes share a PostgreSQL database, else in-memory ones."""
    if engine is not None and engine.dialect.name == "postgresql":
        return SqlTokenBuckets(
            engine, http.rate_limit_per_second, http.rate_limit_burst, clock=clock
        )
    return TokenBuckets(http.rate_limit_per_second, http.rate_limit_burst, clock=clock)
