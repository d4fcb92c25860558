"""The webhook sender with OAuth 2.0 client credentials, on a real outbox, a real token endpoint
and a real receiver on loopback: the bearer token rides along with the signatures, is reused
until 60 s before it expires, is dropped on a 401, and a failing token endpoint is a failed
attempt with its reason in the delivery log. Each test makes its own claims and POSTs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from config.settings import DnsSettings, WebhookSettings
from mta.core.dns import DnsResolver
from mta.db.models import WebhookDelivery
from mta.webhooks.jobs import sign
from mta.webhooks.sender import WebhookSender
from tests.support.clock import FakeClock
from tests.support.oauth_server import TokenServer
from tests.support.webhook_outbox import add_hook as add_webhook
from tests.support.webhook_receiver import WebhookReceiver

SETTINGS = WebhookSettings(
    allow_private_targets=True,
    timeout_seconds=5.0,
    lease_seconds=30.0,
    retry_schedule_seconds=[60, 300, 900, 3600, 7200],
    per_webhook_concurrency=1,
)
CLIENT, SECRET = "hooks client", "s3cret/+="  # characters RFC 6749 §2.3.1 form-encodes


@pytest.fixture
def tokens() -> Iterator[TokenServer]:
    server = TokenServer(CLIENT, SECRET).start()
    yield server
    server.stop()


@pytest.fixture
def receiver(tokens: TokenServer) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    receiver.authorize = tokens.accepts
    yield receiver
    receiver.stop()


async def add_hook(sessions: Any, url: str, token_url: str, events: int) -> str:
    oauth = {"oauth_client_id": CLIENT, "oauth_client_secret": SECRET, "oauth_token_url": token_url}
    return await add_webhook(sessions, url, events, **oauth)


async def rows(sessions: Any) -> list[WebhookDelivery]:
    async with sessions() as session:
        found = await session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))
        return list(found)


async def due_again(sessions: Any) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(WebhookDelivery).values(next_attempt_at=0.0))


async def post_next(sender: WebhookSender) -> None:
    [job] = await sender.claim()
    await sender.deliver(job)


def bearers(receiver: WebhookReceiver) -> list[str]:
    return [d.headers.get("authorization", "") for d in receiver.deliveries]


async def test_the_bearer_token_rides_with_the_signature_and_is_reused(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    await add_hook(sessions, receiver.url, tokens.url, 3)
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()))
    try:
        for _ in range(3):
            await post_next(sender)
    finally:
        await sender.stop()
    assert bearers(receiver) == ["Bearer token-1"] * 3
    assert tokens.granted() == 1
    [asked] = tokens.requests
    assert (asked.client_id, asked.client_secret, asked.grant_type) == (
        CLIENT,
        SECRET,
        "client_credentials",
    )
    for delivery in receiver.deliveries:
        timestamp = delivery.headers["x-scaisend-timestamp"]
        expected = sign("s3cret", timestamp, delivery.body.decode())
        assert delivery.headers["x-scaisend-signature"] == expected
    assert [row.state for row in await rows(sessions)] == ["delivered"] * 3


async def test_a_token_is_fetched_again_60_seconds_before_it_expires(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    await add_hook(sessions, receiver.url, tokens.url, 5)
    clock = FakeClock(time.time())  # wall time too: the outbox rows are due now
    tokens.expires_in = 120  # usable for 60 s
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()), clock=clock)
    try:
        await post_next(sender)
        await clock.advance(59)
        await post_next(sender)
        await clock.advance(2)
        await post_next(sender)
        # A token that lives 60 s or less is never reused.
        tokens.expires_in = 60
        await clock.advance(61)
        await post_next(sender)
        await post_next(sender)
    finally:
        await sender.stop()
    assert bearers(receiver) == [
        "Bearer token-1",
        "Bearer token-1",
        "Bearer token-2",
        "Bearer token-3",
        "Bearer token-4",
    ]
    assert tokens.granted() == 4


async def test_a_401_drops_the_token_and_the_retry_fetches_a_new_one(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    await add_hook(sessions, receiver.url, tokens.url, 2)
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()))
    try:
        await post_next(sender)
        tokens.revoke_all()  # the receiver no longer takes token-1
        await post_next(sender)
        outcomes = sorted((r.state, r.last_status, r.attempts) for r in await rows(sessions))
        assert outcomes == [("delivered", 200, 1), ("pending", 401, 1)]
        await due_again(sessions)
        await post_next(sender)
    finally:
        await sender.stop()
    assert bearers(receiver) == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert [d.status for d in receiver.deliveries] == [200, 401, 200]
    assert [row.state for row in await rows(sessions)] == ["delivered", "delivered"]


async def test_a_failing_token_endpoint_is_a_failed_attempt_with_its_reason(
    sessions: Any,
    receiver: WebhookReceiver,
    tokens: TokenServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook_id = await add_hook(sessions, receiver.url, tokens.url, 1)
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()))
    failures = [
        ("status", 500, "the token endpoint answered HTTP 500"),
        ("answer", b"<html>oops</html>", "the token endpoint's answer is not a token"),
        ("answer", b'{"token_type": "Bearer"}', "access_token"),
        ("answer", b'{"access_token": "t", "token_type": "mac"}', "'mac' is not Bearer"),
    ]
    try:
        with caplog.at_level(logging.WARNING, logger="mta.webhooks.sender"):
            for attempt, (knob, value, reason) in enumerate(failures, start=1):
                setattr(tokens, knob, value)
                await post_next(sender)
                [row] = await rows(sessions)
                assert (row.state, row.attempts, row.last_status) == ("pending", attempt, None)
                assert row.last_error is not None and row.last_error.startswith("OAuth token: ")
                assert reason in row.last_error
                setattr(tokens, knob, 200 if knob == "status" else None)
                await due_again(sessions)
        assert f"event=webhook_oauth_failed webhook={hook_id}" in caplog.text
        assert receiver.count() == 0  # no POST went out without a token
        await post_next(sender)  # the endpoint works again: the retry is delivered
    finally:
        await sender.stop()
    [row] = await rows(sessions)
    assert (row.state, row.attempts) == ("delivered", 5)
    assert bearers(receiver) == ["Bearer token-1"]


async def test_wrong_client_credentials_are_refused_by_the_token_endpoint(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    await add_hook(sessions, receiver.url, tokens.url, 1)
    tokens.client_secret = "another"
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()))
    try:
        await post_next(sender)
    finally:
        await sender.stop()
    [row] = await rows(sessions)
    assert row.last_error == "OAuth token: the token endpoint answered HTTP 401"
    assert receiver.count() == 0


@pytest.mark.parametrize(
    ("scheme", "reason"),
    [
        ("http", "the token URL must use https"),
        ("https", "target address 127.0.0.1 is not allowed"),
    ],
)
async def test_the_token_url_passes_the_ssrf_guard(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer, scheme: str, reason: str
) -> None:
    token_url = tokens.url.replace("http://", f"{scheme}://")
    await add_hook(sessions, receiver.url, token_url, 1)
    guarded = WebhookSettings(allow_private_targets=False, timeout_seconds=5.0)
    sender = WebhookSender(sessions, guarded, DnsResolver(DnsSettings()))
    try:
        await post_next(sender)
    finally:
        await sender.stop()
    [row] = await rows(sessions)
    assert row.state == "pending" and reason in (row.last_error or "")
    assert tokens.requests == [] and receiver.count() == 0


async def test_an_unexpected_error_in_an_attempt_is_a_failed_attempt(
    sessions: Any, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    """A row stored before hosts were normalised: httpx refuses its token URL's host with an
    InvalidURL, which no network error handler expects. The running sender records it as a
    failed attempt on the retry schedule; the row is never left `sending`."""
    await add_hook(sessions, receiver.url, "https://\u2460\u2461\u2466.0.0.1/token", 1)
    sender = WebhookSender(sessions, SETTINGS, DnsResolver(DnsSettings()))
    sender.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            [row] = await rows(sessions)
            if row.attempts:
                break
            await asyncio.sleep(0.02)
    finally:
        await sender.stop()
    [row] = await rows(sessions)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert (row.last_error or "").startswith("InvalidURL: ")
    assert row.next_attempt_at == pytest.approx(time.time() + 60, abs=5)
    assert tokens.requests == [] and receiver.count() == 0
