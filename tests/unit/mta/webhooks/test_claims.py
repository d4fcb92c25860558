"""Webhook claims across nodes, on SQLite and PostgreSQL: senders claiming at the same moment
never get the same outbox row, and on PostgreSQL a row locked by another node is skipped
(FOR UPDATE SKIP LOCKED), not waited for."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select

from config.settings import WebhookSettings
from mta.db.models import WebhookDelivery
from mta.services.accounts import AccountService
from mta.webhooks.jobs import Job
from tests.support.webhook_outbox import add_hook, rows, sender

WIDE = WebhookSettings(
    allow_private_targets=True,
    timeout_seconds=5.0,
    lease_seconds=30.0,
    max_concurrency=8,
    per_webhook_concurrency=8,
)
URL = "http://127.0.0.1:9/hook"  # never posted to: these tests only claim


def claimed_ids(jobs: list[Job]) -> list[str]:
    return [row.id for job in jobs for row in job.rows]


async def test_concurrent_senders_never_claim_the_same_row(sessions: Any) -> None:
    for _ in range(5):
        await add_hook(sessions, URL, 30)
    senders = [sender(sessions, WIDE) for _ in range(4)]
    taken: Counter[str] = Counter()
    tokens: dict[str, str] = {}
    try:
        for _ in range(50):  # each round: every sender claims at the same moment
            rounds = await asyncio.gather(*(s.claim() for s in senders))
            found = [job for jobs in rounds for job in jobs]
            if not found:
                break
            for job in found:
                for row in job.rows:
                    taken[row.id] += 1
                    tokens[row.id] = job.token
    finally:
        for s in senders:
            await s.stop()
    assert [row_id for row_id, n in taken.items() if n > 1] == []
    stored = await rows(sessions)
    assert len(taken) == len(stored) == 150
    # Each row is held by the claim that returned it, and only by that one.
    assert all(row.state == "sending" and row.claim_token == tokens[row.id] for row in stored)


async def test_rows_locked_by_another_node_are_skipped(sessions: Any) -> None:
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no row locks: one node, and its writes are serialised")
    await add_hook(sessions, URL, 4)
    all_ids = sorted(row.id for row in await rows(sessions))
    held = all_ids[:2]
    posting = sender(sessions, WIDE)
    async with sessions() as other, other.begin():  # another node, mid-claim
        await other.execute(
            select(WebhookDelivery.id).where(WebhookDelivery.id.in_(held)).with_for_update()
        )
        async with asyncio.timeout(5):  # without SKIP LOCKED the claim waits on the lock
            jobs = await posting.claim()
    await posting.stop()
    assert sorted(claimed_ids(jobs)) == all_ids[2:]
    states = {row.id: row.state for row in await rows(sessions)}
    assert [states[i] for i in held] == ["pending", "pending"]


async def test_a_disabled_accounts_webhooks_pause_and_go_on_when_it_is_enabled(
    sessions: Any,
) -> None:
    await add_hook(sessions, URL, 3)
    accounts = AccountService(sessions)
    claiming = sender(sessions, WIDE)
    try:
        await accounts.set_disabled("acme", True)
        assert await claiming.claim() == []
        assert {row.state for row in await rows(sessions)} == {"pending"}
        await accounts.set_disabled("acme", False)
        assert len(claimed_ids(await claiming.claim())) == 3
    finally:
        await claiming.stop()
