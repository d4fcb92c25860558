"""Connection limits per client address and in total, and messages per session: the counters
and policy functions alone, then over real sockets on loopback (127.0.0.2 as another client).
"""

from __future__ import annotations

import ipaddress
import ssl
from contextlib import AsyncExitStack

import pytest

from mta.listeners.limits import (
    SERVER_BUSY,
    TOO_MANY_FROM_CLIENT,
    TOO_MANY_MESSAGES,
    AuthFailures,
    ConnectionLimits,
    auth_failure_delay,
    in_networks,
    parse_networks,
)
from tests.unit.mta.listeners.raw import greeted, held_open, plain_auth, raw_client
from tests.unit.mta.listeners.support import GOOD_KEY, make_tls, running_ingress


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.mark.parametrize(
    ("failures", "step", "delay"),
    [
        (0, 0.5, 0.0),
        (1, 0.5, 0.0),  # the first failure (a typo) is answered at once
        (2, 0.5, 1.0),
        (3, 0.5, 1.5),
        (4, 0.5, 2.0),
        (10, 0.5, 5.0),
        (11, 0.5, 5.0),  # capped
        (1000, 0.5, 5.0),
        (3, 0.0, 0.0),  # tests switch the delay off
        (2, 0.1, 0.2),
        (2, 10.0, 5.0),
    ],
)
def test_auth_failure_delay_schedule(failures: int, step: float, delay: float) -> None:
    assert auth_failure_delay(failures, step) == pytest.approx(delay)


def test_auth_failure_delay_cap_is_a_parameter() -> None:
    assert auth_failure_delay(4, 1.0, cap=2.5) == 2.5


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("192.0.2.7", True),
        ("192.0.3.1", False),
        ("::ffff:192.0.2.7", True),  # IPv4 client on a dual-stack socket
        ("2001:db8::1", True),
        ("fe80::1%eth0", False),
        ("", False),
        ("not an address", False),
    ],
)
def test_in_networks(address: str, inside: bool) -> None:
    networks = parse_networks(["192.0.2.0/24", "2001:db8::/32"])
    assert in_networks(address, networks) is inside


def test_in_networks_with_no_networks() -> None:
    assert not in_networks("127.0.0.1", ())


def test_connection_limits_count_and_release() -> None:
    limits = ConnectionLimits(max_total=3, max_per_client=2, max_messages=1, data_memory=1 << 20)
    assert limits.acquire("a") is None
    assert limits.acquire("a") is None
    assert limits.acquire("a") == TOO_MANY_FROM_CLIENT
    assert limits.acquire("b") is None
    assert limits.acquire("c") == SERVER_BUSY
    assert (limits.open, limits.open_from("a")) == (3, 2)  # refusals are not counted
    limits.release("a")
    limits.release("b")
    assert (limits.open, limits.open_from("a"), limits.open_from("b")) == (1, 1, 0)
    limits.release("a")
    limits.release("a")  # an extra release does not go negative
    assert limits.open == 0
    assert limits._per_client == {}  # nothing kept for clients without connections


def test_auth_failures_count_within_the_window() -> None:
    now = [1000.0]
    failures = AuthFailures(limit=3, window=60, delay_step=0.5, clock=lambda: now[0])
    assert [failures.record("a") for _ in range(3)] == [1, 2, 3]
    assert failures.blocked("a") and not failures.blocked("b")
    assert failures.delay(3) == 1.5
    now[0] += 59
    assert failures.blocked("a")
    now[0] += 1  # the window counts from the first failure
    assert not failures.blocked("a")
    assert failures.record("a") == 1
    assert failures.tracked == 1


def test_auth_failures_memory_is_bounded() -> None:
    now = [0.0]
    failures = AuthFailures(limit=2, window=10, delay_step=0, clock=lambda: now[0], max_clients=3)
    for address in ipaddress.ip_network("198.51.100.0/28").hosts():
        failures.record(str(address))
        now[0] += 1
    assert failures.tracked == 3  # the oldest were dropped
    assert failures.record("198.51.100.14") == 2
    now[0] += 100
    failures.record("203.0.113.1")  # expired entries go on the next failure
    assert failures.tracked == 1


async def test_per_client_limit(tls: ssl.SSLContext) -> None:
    async with running_ingress(tls, max_connections_per_client=2) as ingress:
        port = ingress.mx_port
        async with raw_client(port) as first, raw_client(port) as second:
            assert (await first.reply()).startswith("220 ")
            assert (await second.reply()).startswith("220 ")
            for _ in range(2):  # refused ones do not count, however many
                async with raw_client(port) as third:
                    assert await third.reply() == TOO_MANY_FROM_CLIENT
                    assert await third.closed_by_server()
            assert await greeted(port, source="127.0.0.2")  # another address
            assert await first.command("QUIT") == "221 2.0.0 Bye"
            async with AsyncExitStack() as stack:
                assert await held_open(stack, port) is not None  # first's place is free again
                async with raw_client(port) as extra:
                    assert await extra.reply() == TOO_MANY_FROM_CLIENT


async def test_total_limit_is_shared_by_the_listeners(tls: ssl.SSLContext) -> None:
    async with running_ingress(tls, max_connections=3) as ingress:
        async with (
            raw_client(ingress.submission_port) as submission,
            raw_client(ingress.smtps_port, tls=True) as smtps,
            raw_client(ingress.mx_port, source="127.0.0.2") as mx,
        ):
            for client in (submission, smtps, mx):
                assert (await client.reply()).startswith("220 ")
            async with raw_client(ingress.mx_port, source="127.0.0.3") as fourth:
                assert await fourth.reply() == SERVER_BUSY
                assert await fourth.closed_by_server()
            smtps.writer.transport.abort()  # however a connection ends, it is counted out
        assert await greeted(ingress.mx_port)


async def test_abrupt_and_refused_endings_release_the_count(tls: ssl.SSLContext) -> None:
    async with running_ingress(tls, max_connections_per_client=1) as ingress:
        port = ingress.mx_port
        async with raw_client(port) as client:
            assert (await client.reply()).startswith("220 ")
            client.writer.transport.abort()  # RST, no QUIT
        assert await greeted(port)
        async with raw_client(ingress.smtps_port, tls=True) as client:
            assert (await client.reply()).startswith("220 ")  # ends with the TLS close
        assert await greeted(port)


async def test_messages_per_connection_on_mx(tls: ssl.SSLContext) -> None:
    async with running_ingress(tls, max_messages_per_connection=2) as ingress:
        async with raw_client(ingress.mx_port) as client:
            await client.reply()
            assert (await client.command("EHLO client.example")).startswith("250 ")
            for _ in range(2):
                assert await client.command("MAIL FROM:<a@remote.example>") == "250 2.1.0 Ok"
                assert (await client.command("RSET")).startswith("250 ")
            assert await client.command("MAIL FROM:<a@remote.example>") == TOO_MANY_MESSAGES
            assert await client.closed_by_server()
        assert await greeted(ingress.mx_port)


async def test_messages_per_connection_on_submission(tls: ssl.SSLContext) -> None:
    async with (
        running_ingress(tls, max_messages_per_connection=1) as ingress,
        raw_client(ingress.smtps_port, tls=True) as client,
    ):
        await client.reply()
        await client.command("EHLO client.example")
        assert (await client.command(plain_auth(GOOD_KEY))).startswith("235 ")
        assert await client.command("MAIL FROM:<app@sender.example>") == "250 2.1.0 Ok"
        assert (await client.command("RSET")).startswith("250 ")
        assert await client.command("MAIL FROM:<app@sender.example>") == TOO_MANY_MESSAGES
        assert await client.closed_by_server()
