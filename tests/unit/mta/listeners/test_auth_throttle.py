"""AUTH brute force over real sockets: failures per client address bring a growing delay, then
421 and disconnect for every AUTH from that address, while other addresses still log in.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from mta.listeners.limits import TOO_MANY_AUTH_FAILURES
from tests.unit.mta.listeners.raw import RawClient, plain_auth, raw_client
from tests.unit.mta.listeners.support import GOOD_KEY, Ingress, make_tls, running_ingress

INVALID = "535 5.7.8 Authentication credentials invalid"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def ingress(tls: ssl.SSLContext) -> AsyncIterator[Ingress]:
    settings = {"auth_failure_limit": 5, "auth_failure_delay_seconds": 0.0}
    async with running_ingress(tls, **settings) as running:
        yield running


async def smtps_session(stack: AsyncExitStack, port: int, source: str) -> RawClient:
    client = await stack.enter_async_context(raw_client(port, source=source, tls=True))
    assert (await client.reply()).startswith("220 ")
    assert (await client.command("EHLO client.example")).startswith("250 ")
    return client


async def test_fifty_wrong_passwords_then_421_while_others_log_in(ingress: Ingress) -> None:
    replies: list[str] = []
    async with AsyncExitStack() as stack:
        client = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
        for attempt in range(50):
            reply = await client.command(plain_auth(f"SG.guess-{attempt}"))
            replies.append(reply)
            if reply.startswith("421"):
                assert await client.closed_by_server()
                client = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
    assert replies[:4] == [INVALID] * 4
    assert replies[4:] == [TOO_MANY_AUTH_FAILURES] * 46
    assert len(ingress.keys.seen) == 5  # once blocked, no key is even looked up
    async with AsyncExitStack() as stack:
        other = await smtps_session(stack, ingress.smtps_port, "127.0.0.2")
        assert (await other.command(plain_auth(GOOD_KEY))).startswith("235 ")
        blocked = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
        assert await blocked.command(plain_auth(GOOD_KEY)) == TOO_MANY_AUTH_FAILURES


async def test_blocked_address_gets_421_on_the_starttls_port_too(ingress: Ingress) -> None:
    async with AsyncExitStack() as stack:
        client = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
        for attempt in range(5):
            await client.command(plain_auth(f"SG.guess-{attempt}"))
        submission = await stack.enter_async_context(raw_client(ingress.submission_port))
        await submission.reply()
        await submission.command("EHLO client.example")
        await submission.starttls()
        await submission.command("EHLO client.example")
        assert await submission.command("AUTH LOGIN") == TOO_MANY_AUTH_FAILURES
        assert await submission.closed_by_server()


async def test_each_failure_waits_longer(tls: ssl.SSLContext) -> None:
    settings = {"auth_failure_limit": 10, "auth_failure_delay_seconds": 0.2}
    async with running_ingress(tls, **settings) as ingress, AsyncExitStack() as stack:
        client = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
        elapsed = []
        for attempt in range(3):
            start = time.monotonic()
            assert await client.command(plain_auth(f"SG.guess-{attempt}")) == INVALID
            elapsed.append(time.monotonic() - start)
    assert elapsed[0] < 0.2  # the first failure is answered at once
    assert 0.4 <= elapsed[1] < 0.9
    assert 0.6 <= elapsed[2] < 1.1


async def test_failures_are_logged_without_the_secret(
    ingress: Ingress, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    async with AsyncExitStack() as stack:
        client = await smtps_session(stack, ingress.smtps_port, "127.0.0.1")
        for _ in range(5):
            await client.command(plain_auth("SG.secret-attempt"))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SG.secret-attempt" not in logged
    assert plain_auth("SG.secret-attempt").split()[-1] not in logged
    assert "from 127.0.0.1 refused (failure 5)" in logged
