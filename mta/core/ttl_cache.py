"""A small expiring cache for database rows read on every message or request (API keys,
sending domains, our inbound domains); its owner clears entries it knows have changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from mta.core.clock import Clock, SystemClock

K = TypeVar("K")
V = TypeVar("V")
# Nodes sharing one PostgreSQL each keep these caches: a key revoked, a domain or template
# changed through one node holds on every other within this many seconds (docs/operations.md).
SHARED_CACHE_SECONDS = 5.0


class TtlCache(Generic[K, V]):
    """Values kept `seconds` (of the clock's monotonic time) after loading; when `max_size`
    is reached it starts empty."""

    def __init__(self, seconds: float, max_size: int = 10_000, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._seconds = seconds
        self._max_size = max_size
        self._entries: dict[K, tuple[float, V]] = {}

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        cached = self._entries.get(key)
        if cached is not None and cached[0] > self._clock.monotonic():
            return cached[1]
        value = await load()
        if len(self._entries) >= self._max_size:
            self._entries.clear()
        self._entries[key] = (self._clock.monotonic() + self._seconds, value)
        return value

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
