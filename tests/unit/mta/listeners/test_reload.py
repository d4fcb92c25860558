"""A reload reaching running listeners through `ListenerControls`: new connection caps for new
connections while open ones go on, the relay networks from the next RCPT, a relay withdrawn
between RCPT and DATA answered 451 (never silently dropped)."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from mta.core.model import SessionTrace
from mta.listeners.limits import TOO_MANY_FROM_CLIENT
from mta.listeners.servers import ListenerControls, bound_port, close_listeners, start_listeners
from tests.unit.mta.listeners.raw import RawClient, raw_client
from tests.unit.mta.listeners.support import (
    FakeInbound,
    FakeIntake,
    FakeKeys,
    loopback_settings,
    make_tls,
)

RELAY_NETWORK = {"relay_networks": ["127.0.0.0/8"], "relay_account": "relay"}


@dataclass
class FakeRelay:
    calls: list[list[str]] = field(default_factory=list)

    async def submit_relay(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, trace: SessionTrace
    ) -> str:
        self.calls.append(rcpt_tos)
        return "queue-1"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@asynccontextmanager
async def mx_with_controls(
    tls: ssl.SSLContext, relay: FakeRelay | None, **overrides: object
) -> AsyncIterator[tuple[int, ListenerControls]]:
    settings = loopback_settings(**overrides)
    controls = ListenerControls(settings, FakeInbound(), relay)
    servers = await start_listeners(
        settings, tls, FakeIntake(), FakeKeys(), FakeInbound(), relay, controls=controls
    )
    try:
        yield bound_port(servers[2]), controls
    finally:
        await close_listeners(servers)


@asynccontextmanager
async def helo(port: int) -> AsyncIterator[RawClient]:
    async with raw_client(port) as client:
        assert (await client.reply()).startswith("220 ")
        assert (await client.command("HELO client.test")).startswith("250")
        yield client


async def test_a_lower_per_client_cap_applies_to_new_connections_only(
    tls: ssl.SSLContext,
) -> None:
    async with (
        mx_with_controls(tls, None, max_connections_per_client=3) as (port, controls),
        raw_client(port) as first,
        raw_client(port) as second,
    ):
        assert (await first.reply()).startswith("220 ")
        assert (await second.reply()).startswith("220 ")
        controls.apply_settings(loopback_settings(max_connections_per_client=2), None)
        async with raw_client(port) as third:
            assert await third.reply() == TOO_MANY_FROM_CLIENT
        assert (await first.command("NOOP")).startswith("250")
        assert (await second.command("NOOP")).startswith("250")


async def test_relay_networks_apply_from_the_next_rcpt(tls: ssl.SSLContext) -> None:
    relay = FakeRelay()
    async with (
        mx_with_controls(tls, None) as (port, controls),
        helo(port) as before,
    ):
        assert (await before.command("MAIL FROM:<a@client.test>")).startswith("250")
        assert (await before.command("RCPT TO:<b@elsewhere.test>")).startswith("554")
        controls.apply_settings(loopback_settings(**RELAY_NETWORK), relay)
        assert (await before.command("RCPT TO:<b@elsewhere.test>")).startswith("250")
        assert (await before.command("DATA")).startswith("354")
        assert (await before.command("Subject: x\r\n\r\nbody\r\n.")).startswith("250")
    assert relay.calls == [["b@elsewhere.test"]]


async def test_a_relay_withdrawn_before_data_is_a_temporary_failure(
    tls: ssl.SSLContext,
) -> None:
    relay = FakeRelay()
    async with (
        mx_with_controls(tls, relay, **RELAY_NETWORK) as (port, controls),
        helo(port) as client,
    ):
        assert (await client.command("MAIL FROM:<a@client.test>")).startswith("250")
        assert (await client.command("RCPT TO:<b@elsewhere.test>")).startswith("250")
        controls.apply_settings(loopback_settings(), None)
        assert (await client.command("DATA")).startswith("354")
        assert (await client.command("Subject: x\r\n\r\nbody\r\n.")).startswith("451 4.3.0")
    assert relay.calls == []
