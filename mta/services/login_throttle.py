"""Failed sign-ins, counted per user and per client address: past a limit within a window,
further tries are refused until the window has passed, right password or not (so guessing
costs time, and a locked-out user is told when to try again)."""

from __future__ import annotations

from collections import deque

from mta.core.clock import Clock, SystemClock

WINDOW_SECONDS = 900.0
PER_USER = 5  # failures in the window before a user's sign-ins wait
PER_ADDRESS = 20  # the same for one client address, whichever users it tries
MAX_KEYS = 100_000  # users and addresses remembered; past it, those with no recent failure go


class LoginThrottle:
    """In memory, per process: each worker counts the failures it saw."""

    def __init__(self, clock: Clock | None = None, window: float = WINDOW_SECONDS) -> None:
        self._clock = clock or SystemClock()
        self._window = window
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, email: str, address: str) -> float:
        """Seconds until a sign-in may be tried (0: now)."""
        waits = [
            self._wait(f"user:{email.lower()}", PER_USER),
            self._wait(f"addr:{address}", PER_ADDRESS),
        ]
        return max(waits)

    def failed(self, email: str, address: str) -> None:
        now = self._clock.monotonic()
        if len(self._failures) >= MAX_KEYS:
            self._failures = {
                k: t for k, t in self._failures.items() if t and t[-1] > now - self._window
            }
        for key in (f"user:{email.lower()}", f"addr:{address}"):
            self._failures.setdefault(key, deque()).append(now)

    def _wait(self, key: str, limit: int) -> float:
        times = self._failures.get(key)
        if not times:
            return 0.0
        now = self._clock.monotonic()
        while times and times[0] <= now - self._window:
            times.popleft()
        if len(times) < limit:
            return 0.0
        return max(0.0, times[-limit] + self._window - now)
