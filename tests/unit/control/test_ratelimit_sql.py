"""The shared token buckets on a real PostgreSQL: they decide exactly as the in-memory
reference (refill, decide) for the same requests at the same times, two nodes spending from
one bucket at once never hand out more than the burst, and the limiter follows the dialect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import HttpSettings
from control.ratelimit import TokenBuckets
from control.ratelimit_sql import SqlTokenBuckets, make_limiter
from mta.db.engine import make_engine
from mta.db.models import RateLimitBucket
from tests.support.server import free_port


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(postgres_cluster: Any) -> AsyncIterator[AsyncEngine]:
    database = await postgres_cluster.create_database()
    made = make_engine(postgres_cluster.url(database))
    yield made
    await made.dispose()
    await postgres_cluster.drop_database(database)


# (seconds to advance the clock, key) before each request; negative: the clock steps back.
STEPS = [
    *[(0.0, "a")] * 4,
    (0.3, "a"),
    (0.0, "b"),
    (0.1, "a"),
    (2.5, "a"),
    (-5.0, "a"),
    (0.0, "a"),
    (0.7, "a"),
    (100.0, "b"),
    *[(0.01, "b")] * 5,
]


@pytest.mark.parametrize(("rate", "burst"), [(2.0, 3), (0.1, 2), (1000.0, 5), (1.0, 1)])
async def test_the_sql_buckets_agree_with_the_reference(
    engine: AsyncEngine, rate: float, burst: int
) -> None:
    clock = Clock()
    shared = SqlTokenBuckets(engine, rate, burst, clock=clock)
    reference = TokenBuckets(rate, burst, clock=clock)
    for step, key in STEPS:
        clock.now += step
        assert await shared.acquire(key) == reference.take(key), (clock.now, key)


async def test_two_nodes_share_one_budget(postgres_cluster: Any, engine: AsyncEngine) -> None:
    other = make_engine(str(engine.url))  # the second node: its own connection pool
    try:
        nodes = [SqlTokenBuckets(engine, 0.001, 20), SqlTokenBuckets(other, 0.001, 20)]
        decisions = await asyncio.gather(*(nodes[n % 2].acquire("key:k1") for n in range(60)))
    finally:
        await other.dispose()
    assert sum(d.allowed for d in decisions) == 20
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(20))
    assert all(d.retry_after >= 1 for d in decisions if not d.allowed)


async def test_buckets_full_again_are_pruned(engine: AsyncEngine) -> None:
    clock = Clock()
    shared = SqlTokenBuckets(engine, 1.0, 5, clock=clock, prune_every=3)
    reference = TokenBuckets(1.0, 5, clock=clock)
    for key in ("a", "b"):
        assert await shared.acquire(key) == reference.take(key)
    clock.now += 10.0  # both are full again: the third request prunes them
    assert await shared.acquire("c") == reference.take("c")
    async with engine.connect() as conn:
        keys = (await conn.execute(select(RateLimitBucket.key))).scalars().all()
    assert keys == ["c"]
    assert await shared.acquire("a") == reference.take("a")  # as full as it was


async def test_reconfigure_takes_the_new_limits(engine: AsyncEngine) -> None:
    clock = Clock()
    shared = SqlTokenBuckets(engine, 100.0, 100, clock=clock)
    assert (await shared.acquire("k")).remaining == 99
    shared.configure(1.0, 2)
    seen = [await shared.acquire("k") for _ in range(3)]
    assert [d.allowed for d in seen] == [True, True, False]
    assert seen[0].limit == 2


async def test_a_database_away_falls_back_to_this_nodes_buckets() -> None:
    away = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    try:
        shared = SqlTokenBuckets(away, 1.0, 2)
        seen = [await shared.acquire("k") for _ in range(3)]
    finally:
        await away.dispose()
    assert [d.allowed for d in seen] == [True, True, False]


async def test_the_limiter_follows_the_dialect(engine: AsyncEngine, tmp_path: Path) -> None:
    http = HttpSettings(rate_limit_per_second=5.0, rate_limit_burst=10)
    assert isinstance(make_limiter(http, engine), SqlTokenBuckets)
    sqlite = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert isinstance(make_limiter(http, sqlite), TokenBuckets)
    finally:
        await sqlite.dispose()
    assert isinstance(make_limiter(http, None), TokenBuckets)
    async with engine.connect() as conn:  # the migrated template has the table, empty
        assert await conn.scalar(select(func.count()).select_from(RateLimitBucket)) == 0
