"""PROXY protocol v1/v2 over real sockets: the header's source is the client's address for the
limits, relay_networks and AUTH throttling; untrusted senders and missing headers are refused."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from mta.listeners.limits import TOO_MANY_AUTH_FAILURES, TOO_MANY_FROM_CLIENT, UNTRUSTED_PROXY
from mta.listeners.servers import bound_port, close_listeners, start_listeners
from tests.unit.mta.listeners.raw import (
    RawClient,
    client_tls,
    plain_auth,
    proxy_v1,
    proxy_v2,
    raw_client,
)
from tests.unit.mta.listeners.support import (
    GOOD_KEY,
    FakeInbound,
    FakeIntake,
    FakeKeys,
    loopback_settings,
    make_tls,
)

RELAY_DENIED = "554 5.7.1 Relay access denied"


class FakeRelay:
    async def submit_relay(self, *args: object) -> str:
        return "relayed-1"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@asynccontextmanager
async def listeners(tls: ssl.SSLContext, **overrides: object) -> AsyncIterator[list[int]]:
    """[submission, smtps, mx] ports; PROXY senders trusted from loopback unless overridden."""
    overrides.setdefault("proxy_networks", ["127.0.0.0/8"])
    settings = loopback_settings(**overrides)
    servers = await start_listeners(
        settings, tls, FakeIntake(), FakeKeys(), FakeInbound(), FakeRelay()
    )
    try:
        yield [bound_port(server) for server in servers]
    finally:
        await close_listeners(servers)


async def mx_session(stack: AsyncExitStack, port: int, header: bytes) -> tuple[RawClient, str]:
    client = await stack.enter_async_context(raw_client(port, header=header))
    greeting = await client.reply()
    if greeting.startswith("220 "):
        await client.command("EHLO relay.example")
        await client.command("MAIL FROM:<app@sender.example>")
    return client, greeting


@pytest.mark.parametrize("header", [proxy_v1, proxy_v2])
async def test_header_address_is_the_client_address(
    tls: ssl.SSLContext, header: Callable[[str], bytes]
) -> None:
    settings = {
        "proxy_protocol": ["mx"],
        "max_connections_per_client": 1,
        "relay_networks": ["192.0.2.0/24"],
        "relay_account": "relay",
    }
    async with listeners(tls, **settings) as (_, _, mx), AsyncExitStack() as stack:
        trusted, greeting = await mx_session(stack, mx, header("192.0.2.10"))
        assert greeting.startswith("220 ")
        assert await trusted.command("RCPT TO:<bob@other.example>") == "250 2.1.5 Ok"
        _, second = await mx_session(stack, mx, header("192.0.2.10"))
        assert second == TOO_MANY_FROM_CLIENT  # counted by the header's address ...
        outsider, third = await mx_session(stack, mx, header("198.51.100.7"))
        assert third.startswith("220 ")  # ... not by the socket's (127.0.0.1 for all three)
        assert await outsider.command("RCPT TO:<bob@other.example>") == RELAY_DENIED


async def test_header_from_an_untrusted_network_is_refused(tls: ssl.SSLContext) -> None:
    settings = {"proxy_protocol": ["mx"], "proxy_networks": ["192.0.2.0/24"]}
    async with (
        listeners(tls, **settings) as (_, _, mx),
        raw_client(mx, header=proxy_v1("203.0.113.5")) as client,
    ):
        assert await client.reply() == UNTRUSTED_PROXY
        assert await client.closed_by_server()


@pytest.mark.parametrize("sent", [b"", b"EHLO client.example\r\n"])
async def test_missing_header_closes_the_connection(tls: ssl.SSLContext, sent: bytes) -> None:
    settings = {"proxy_protocol": ["mx"], "proxy_protocol_timeout_seconds": 0.5}
    async with listeners(tls, **settings) as (submission, _, mx):
        start = time.monotonic()
        async with raw_client(mx, header=sent) as client:
            reply = await client.reply()
            assert reply == "" or reply.startswith("421 ")  # never greeted
            assert await client.closed_by_server()
        assert time.monotonic() - start < 3
        async with raw_client(submission) as direct:  # other listeners take no header
            assert (await direct.reply()).startswith("220 ")


async def submission_auth(stack: AsyncExitStack, port: int, source: str, key: str) -> str:
    client = await stack.enter_async_context(raw_client(port, header=proxy_v2(source)))
    assert (await client.reply()).startswith("220 ")
    await client.command("EHLO client.example")
    await client.starttls()  # aiosmtpd starts a new session here: the address must stay
    await client.command("EHLO client.example")
    return await client.command(plain_auth(key))


async def test_auth_throttling_by_header_address_across_starttls(tls: ssl.SSLContext) -> None:
    settings = {"proxy_protocol": ["submission"], "auth_failure_limit": 1}
    async with listeners(tls, **settings) as (submission, _, _), AsyncExitStack() as stack:
        failed = await submission_auth(stack, submission, "192.0.2.10", "SG.wrong")
        assert failed == TOO_MANY_AUTH_FAILURES
        again = await submission_auth(stack, submission, "192.0.2.10", GOOD_KEY)
        assert again == TOO_MANY_AUTH_FAILURES
        other = await submission_auth(stack, submission, "192.0.2.11", GOOD_KEY)
        assert other.startswith("235 ")


async def test_implicit_tls_after_the_header(tls: ssl.SSLContext) -> None:
    async with listeners(tls, proxy_protocol=["smtps"]) as (_, smtps, _):
        async with raw_client(smtps, header=proxy_v1("192.0.2.10"), tls=True) as client:
            assert (await client.reply()).startswith("220 ")
            await client.command("EHLO client.example")
            assert (await client.command(plain_auth(GOOD_KEY))).startswith("235 ")
        with pytest.raises((ConnectionError, ssl.SSLError)):  # TLS straight away: refused
            async with raw_client(smtps, tls=True):
                pass


async def test_client_hello_in_the_same_segment_as_the_header(tls: ssl.SSLContext) -> None:
    async with listeners(tls, proxy_protocol=["smtps"]) as (_, smtps, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", smtps)
        try:
            greeting = await _greeting_over_memory_tls(reader, writer, proxy_v2("192.0.2.10"))
        finally:
            writer.close()
    assert greeting.startswith(b"220 ")


async def _greeting_over_memory_tls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, header: bytes
) -> bytes:
    """TLS by hand, so that the header and the ClientHello leave in one write."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client_tls().wrap_bio(incoming, outgoing)
    pending = header
    received = b""
    while b"\r\n" not in received:
        try:
            if tls.server_side or not tls.version():
                tls.do_handshake()
            received += tls.read(4096)
        except ssl.SSLWantReadError:
            writer.write(pending + outgoing.read())
            pending = b""
            data = await asyncio.wait_for(reader.read(65536), 5)
            assert data, "closed during the handshake"
            incoming.write(data)
    return received
