"""A busy database is a retry inside the webhook sender, never an unhandled task error: SQLite
locked by another writer for longer than its busy timeout, and a real PostgreSQL
serialization failure."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from config.settings import WebhookSettings
from mta.core.clock import SystemClock
from mta.db.models import WebhookDelivery
from mta.webhooks.outbox import Outbox, is_busy
from tests.support.clock import until
from tests.support.databases import Database
from tests.support.webhook_outbox import SETTINGS, add_hook, rows, sender
from tests.support.webhook_receiver import WebhookReceiver

BUSY_CLAIM = "event=webhook_outbox_busy operation=claim"
LOCK_LIMIT_SECONDS = 30.0  # the lock is let go once the claim has failed; this bounds it


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def lock_sqlite(path: Path, held: threading.Event, release: threading.Event) -> None:
    """Another writer holding SQLite's write lock (in a thread): `held` once it has it, let
    go when `release` is set or after LOCK_LIMIT_SECONDS."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=1.0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(LOCK_LIMIT_SECONDS)
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def test_sqlite_locked_by_another_writer_is_waited_out(
    sessions: Any, database: Database, tmp_path: Path, receiver: WebhookReceiver, caplog: Any
) -> None:
    if database.kind != "sqlite":
        pytest.skip("SQLite's own lock")
    await add_hook(sessions, receiver.url, 5)
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    held, release = threading.Event(), threading.Event()
    locker = asyncio.ensure_future(
        asyncio.to_thread(lock_sqlite, tmp_path / "scaisend.db", held, release)
    )
    # The other writer has the lock before the sender starts, and keeps it until the claim
    # has given up on its busy wait (not a fixed time, which a loaded machine can outlast).
    await until(held.is_set, 10.0)
    posting = sender(sessions)
    caplog.set_level(logging.INFO, logger="mta.webhooks.outbox")
    posting.start()
    try:
        await until(lambda: BUSY_CLAIM in caplog.text, LOCK_LIMIT_SECONDS)
        release.set()
        await locker
        await until(lambda: receiver.count() == 5, 30.0)
        await wait_until_delivered(sessions, 5)
    finally:
        await posting.stop()
        loop.set_exception_handler(None)
        release.set()
    assert BUSY_CLAIM in caplog.text
    assert unhandled == []
    assert receiver.count() == 5  # each event once


async def wait_until_delivered(sessions: Any, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if [r.state for r in await rows(sessions)] == ["delivered"] * count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError([r.state for r in await rows(sessions)])


async def test_a_postgresql_serialization_failure_is_retried(
    sessions: Any, database: Database
) -> None:
    if database.kind != "postgresql":
        pytest.skip("PostgreSQL's serialization failure")
    await add_hook(sessions, "http://127.0.0.1:9/", 1)
    async with sessions() as session:
        row_id = await session.scalar(select(WebhookDelivery.id))
    attempts: list[int] = []

    async def update_after_a_concurrent_one() -> str:
        """REPEATABLE READ: a row changed by another transaction after this one's snapshot
        cannot be updated (SQLSTATE 40001), the first time only."""
        attempts.append(len(attempts) + 1)
        async with sessions() as mine:
            await mine.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            await mine.execute(select(WebhookDelivery.attempts).where(WebhookDelivery.id == row_id))
            if len(attempts) == 1:
                async with sessions() as other, other.begin():
                    await other.execute(
                        update(WebhookDelivery)
                        .where(WebhookDelivery.id == row_id)
                        .values(attempts=WebhookDelivery.attempts + 1)
                    )
            await mine.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row_id)
                .values(last_error="written")
            )
            await mine.commit()
        return "done"

    outbox = Outbox(sessions, SETTINGS, SystemClock())
    assert await outbox.retrying("test", update_after_a_concurrent_one) == "done"
    assert attempts == [1, 2]
    async with sessions() as session:
        row = await session.get(WebhookDelivery, row_id)
        assert row is not None and (row.attempts, row.last_error) == (1, "written")
        await session.execute(text("SELECT 1"))


async def test_only_a_busy_database_is_retried(sessions: Any, database: Database) -> None:
    outbox = Outbox(sessions, WebhookSettings(), SystemClock())
    tried: list[int] = []

    async def broken() -> None:
        tried.append(1)
        async with sessions() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception) as raised:
        await outbox.retrying("test", broken)
    assert tried == [1] and not is_busy(raised.value)
