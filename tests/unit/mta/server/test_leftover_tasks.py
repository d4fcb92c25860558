"""A stopped server's leftover tasks: cancelled and awaited for a grace period; one that
ignores its cancellation is named instead of holding the process alive."""

from __future__ import annotations

import asyncio
import contextlib

from mta.server.runtime import stop_leftover_tasks


async def test_tasks_that_end_when_cancelled_leave_nothing() -> None:
    polite = asyncio.create_task(asyncio.sleep(3600), name="polite")
    await asyncio.sleep(0)
    assert await stop_leftover_tasks(grace=1.0) == []
    assert polite.cancelled()


async def test_a_task_that_ignores_cancellation_is_named_after_the_grace() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # as the bug did
                await asyncio.sleep(3600)

    task = asyncio.create_task(stubborn(), name="stubborn")
    await asyncio.sleep(0)
    stuck = await stop_leftover_tasks(grace=0.05)
    assert len(stuck) == 1 and stuck[0].startswith("stubborn (<coroutine object")
    release.set()
    task.cancel()
    await asyncio.wait([task], timeout=1.0)
    assert task.done()
