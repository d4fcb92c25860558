"""The webhook sender on a real SQLite outbox and real HTTP receivers on loopback: claims with a
lease (two senders never take the same row), retry and failure bookkeeping, claims given back
on stop, and a slow receiver that does not hold up another webhook's deliveries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy import update

from mta.db.models import WebhookDelivery
from mta.webhooks.jobs import RESPONSE_EXCERPT, exchange_from, sign
from mta.webhooks.pacing import QUEUE_ROUNDS
from mta.webhooks.sender import START_CONCURRENCY
from tests.support.webhook_outbox import SETTINGS, add_hook, rows, sender
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


async def test_two_senders_never_claim_the_same_row(
    sessions: Any, receiver: WebhookReceiver
) -> None:
    await add_hook(sessions, receiver.url, 1)
    await add_hook(sessions, receiver.url, 1)
    first, second = sender(sessions), sender(sessions)
    claimed = await first.claim()
    await first.stop()
    assert len(claimed) == 2
    assert await second.claim() == []
    assert {row.state for row in await rows(sessions)} == {"sending"}
    # A lease that ran out (its sender died) is taken again, by the other sender.
    async with sessions() as session, session.begin():
        await session.execute(update(WebhookDelivery).values(claimed_until=time.time() - 1))
    again = await second.claim()
    assert sorted(r.id for job in again for r in job.rows) == sorted(
        r.id for job in claimed for r in job.rows
    )
    assert {job.token for job in again}.isdisjoint({job.token for job in claimed})
    await second.stop()


async def test_success_failure_and_exhausted_schedule(
    sessions: Any, receiver: WebhookReceiver
) -> None:
    await add_hook(sessions, receiver.url, 1)
    posting = sender(sessions)  # not started: this test makes each claim and POST itself
    try:
        receiver.status = 500
        [job] = await posting.claim()
        await posting.deliver(job)
        [row] = await rows(sessions)
        assert (row.state, row.attempts, row.last_status) == ("pending", 1, 500)
        assert row.next_attempt_at == pytest.approx(time.time() + 60, abs=5)
        assert row.claim_token is None and await posting.claim() == []
        for expected_state, attempts in (("pending", 2), ("failed", 3)):
            async with sessions() as session, session.begin():
                await session.execute(update(WebhookDelivery).values(next_attempt_at=0.0))
            [job] = await posting.claim()
            await posting.deliver(job)
            [row] = await rows(sessions)
            assert (row.state, row.attempts) == (expected_state, attempts)
        assert await posting.claim() == []
        assert receiver.count() == 3
        # The same event id on every attempt, and every attempt signed.
        bodies = {d.body for d in receiver.deliveries}
        assert len(bodies) == 1
        for d in receiver.deliveries:
            timestamp = d.headers["x-scaisend-timestamp"]
            assert d.headers["x-scaisend-signature"] == sign("s3cret", timestamp, d.body.decode())
    finally:
        await posting.stop()


async def test_a_redirect_counts_as_a_failure(sessions: Any, receiver: WebhookReceiver) -> None:
    await add_hook(sessions, receiver.url, 1)
    receiver.status = 302
    posting = sender(sessions)
    try:
        [job] = await posting.claim()
        await posting.deliver(job)
    finally:
        await posting.stop()
    [row] = await rows(sessions)
    assert (row.state, row.last_status) == ("pending", 302)
    assert "redirects are not followed" in (row.last_error or "")


async def test_stop_gives_claims_back(sessions: Any, receiver: WebhookReceiver) -> None:
    await add_hook(sessions, receiver.url, 1)
    receiver.delay = 3.0
    posting = sender(sessions)
    posting.start()
    deadline = time.monotonic() + 10
    while receiver.count() == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert receiver.count() == 1
    await posting.stop()
    [row] = await rows(sessions)
    assert (row.state, row.claim_token, row.attempts) == ("pending", None, 0)


async def states_by_hook(sessions: Any, *hooks: str) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {hook: [] for hook in hooks}
    for row in await rows(sessions):
        states.setdefault(row.webhook_id, []).append(row.state)
    return states


async def test_a_slow_receiver_does_not_hold_up_another_webhook(sessions: Any) -> None:
    slow, fast = WebhookReceiver().start(), WebhookReceiver().start()
    slow.delay = 2.0
    try:
        slow_hook = await add_hook(sessions, slow.url, 5)
        fast_hook = await add_hook(sessions, fast.url, 20)
        posting = sender(sessions)
        posting.start()
        try:
            deadline = time.monotonic() + 20
            states = await states_by_hook(sessions, slow_hook, fast_hook)
            # The receiver's count runs ahead of the outbox: wait for the recorded state.
            while states[fast_hook] != ["delivered"] * 20 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                states = await states_by_hook(sessions, slow_hook, fast_hook)
            assert fast.count() == 20
            # Per-webhook limit 1: the slow one has had at most a POST or two meanwhile.
            assert slow.count() <= 2
        finally:
            await posting.stop()
        assert states[fast_hook] == ["delivered"] * 20
        slow_states = (await states_by_hook(sessions, slow_hook))[slow_hook]
        assert slow_states.count("delivered") <= 2 and "pending" in slow_states
    finally:
        slow.stop()
        fast.stop()


async def test_a_receiver_that_is_down_keeps_its_schedule_and_a_small_footprint(
    sessions: Any,
) -> None:
    """Every event gets its first attempt and its retry an hour-schedule away; the sender
    never holds more claims than the webhook's paced capacity (rows stay in the database)."""
    gone = WebhookReceiver().start()
    url = gone.url
    gone.stop()  # nothing listens there any more: every POST is refused at once
    events = 300
    await add_hook(sessions, url, events)
    settings = msgspec.structs.replace(SETTINGS, per_webhook_concurrency=8)
    posting = sender(sessions, settings)
    most_claimed = 0
    posting.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = await rows(sessions)
            most_claimed = max(most_claimed, sum(r.state == "sending" for r in found))
            if all(r.attempts == 1 and r.state == "pending" for r in found):
                break
            await asyncio.sleep(0.02)
    finally:
        await posting.stop()
    found = await rows(sessions)
    assert [(r.state, r.attempts) for r in found] == [("pending", 1)] * events
    first_retry = settings.retry_schedule_seconds[0]
    assert all(r.next_attempt_at >= time.time() + first_retry - 35 for r in found)
    assert all((r.last_error or "").startswith("ClientConnector") for r in found)
    # A failing webhook's limit falls to one: it holds at most QUEUE_ROUNDS claims then (and
    # its first limit's worth, START_CONCURRENCY, before the first answer came back).
    assert 0 < most_claimed <= QUEUE_ROUNDS * START_CONCURRENCY


async def test_the_log_keeps_what_was_posted_and_the_start_of_the_answer(
    sessions: Any, receiver: WebhookReceiver
) -> None:
    await add_hook(sessions, receiver.url, 1)
    receiver.status, receiver.answer = 503, b"<h1>down</h1>" + b"x" * 5000
    posting = sender(sessions)
    try:
        [job] = await posting.claim()
        await posting.deliver(job)
    finally:
        await posting.stop()
    [row] = await rows(sessions)
    kept = exchange_from(row.last_exchange)
    assert kept is not None and kept.events == 1
    [posted] = receiver.deliveries
    assert kept.headers["X-ScaiSend-Signature"] == posted.headers["x-scaisend-signature"]
    assert kept.response is not None and kept.response.startswith("<h1>down</h1>xxx")
    assert len(kept.response) == RESPONSE_EXCERPT
