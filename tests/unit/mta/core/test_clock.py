"""The Clock seam: the system clock's event wait (set, or timed out), the test clock's timers
firing in order at their own times, and an expiring cache that reads the clock it is given."""

from __future__ import annotations

import asyncio

from mta.core.clock import SystemClock
from mta.core.ttl_cache import TtlCache
from tests.support.clock import FakeClock


async def test_system_clock_waits_for_an_event_or_the_timeout() -> None:
    clock, event = SystemClock(), asyncio.Event()
    assert await clock.wait_for(event, 0.01) is False
    asyncio.get_running_loop().call_soon(event.set)
    assert await clock.wait_for(event, 5.0) is True
    assert await clock.wait_for(event, None) is True


async def test_fake_timers_fire_in_order_each_at_its_own_time() -> None:
    clock, fired = FakeClock(1000.0), []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        fired.append((name, clock.time()))
        if name == "a":  # a timer armed while time moves is fired in the same advance
            await clock.sleep(1.0)
            fired.append(("a again", clock.time()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 3.0), ("a", 1.0), ("c", 9))]
    await clock.advance(5.0)
    assert fired == [("a", 1001.0), ("a again", 1002.0), ("b", 1003.0)]
    assert clock.time() == 1005.0 and clock.pending() == [1009.0]
    await clock.advance(4.0)
    assert fired[-1] == ("c", 1009.0)
    await asyncio.gather(*tasks)


async def test_fake_wait_for_ends_with_the_event_or_at_the_timeout() -> None:
    clock, event = FakeClock(), asyncio.Event()
    waiter = asyncio.create_task(clock.wait_for(event, 10.0))
    await clock.advance(9.9)
    assert not waiter.done()
    await clock.advance(0.1)
    assert await waiter is False
    waiter = asyncio.create_task(clock.wait_for(event, 10.0))
    await clock.advance(1.0)
    event.set()
    assert await waiter is True
    assert clock.pending() == []  # the timer of the ended wait no longer counts


async def test_ttl_cache_expires_on_its_clock() -> None:
    clock, loads = FakeClock(), []
    cache: TtlCache[str, int] = TtlCache(5.0, clock=clock)

    async def load() -> int:
        loads.append(clock.time())
        return len(loads)

    assert await cache.get_or_load("k", load) == 1
    await clock.advance(4.9)
    assert await cache.get_or_load("k", load) == 1
    await clock.advance(0.1)
    assert await cache.get_or_load("k", load) == 2
