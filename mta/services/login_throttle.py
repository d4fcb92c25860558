"""Failed sign-ins, counted per user and per client address: past a limit within a window,
further tries are refused until the window has passed, right password or not (so guessing
costs time, and a locked-out user is told when to try again)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.db.models import SignInFailure

WINDOW_SECONDS = 900.0
PER_USER = 5  # failures in the window before a user's sign-ins wait
PER_ADDRESS = 20  # the same for one client address, whichever users it tries


def keys(email: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """What a sign-in is counted against, each with its limit."""
    return (f"user:{email.strip().lower()}", PER_USER), (f"addr:{address}", PER_ADDRESS)


class LoginThrottle:
    """Counted in the database (wall-clock seconds), so every worker and node sees every
    failure: N workers do not give a guesser N times the tries."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        clock: Clock | None = None,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._window = window

    async def retry_after(self, email: str, address: str) -> float:
        """Seconds until a sign-in may be tried (0: now)."""
        now = self._clock.time()
        waits = [0.0]
        async with self._sessions() as session:
            for key, limit in keys(email, address):
                latest = await session.scalars(
                    select(SignInFailure.at)
                    .where(SignInFailure.key == key, SignInFailure.at > now - self._window)
                    .order_by(SignInFailure.at.desc())
                    .limit(limit)
                )
                times = list(latest)
                if len(times) >= limit:  # the limit-th latest failure leaves the window then
                    waits.append(times[-1] + self._window - now)
        return max(waits)

    async def failed(self, email: str, address: str) -> None:
        now = self._clock.time()
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(SignInFailure).where(SignInFailure.at <= now - self._window)
            )
            session.add_all(SignInFailure(key=key, at=now) for key, _limit in keys(email, address))
