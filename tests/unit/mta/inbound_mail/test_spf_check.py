"""SPF of received mail through pyspf, against a real DNS server on loopback: pass, fail,
softfail, no record, an include loop, and two evaluations on different servers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from mta.inbound_mail.spf_check import spf_result, sync_resolver
from tests.support.dns_server import DnsServer


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer("127.0.0.1", 0)
    server.start()
    server.add("strict.example", "TXT", '"v=spf1 ip4:192.0.2.0/24 -all"')
    server.add("soft.example", "TXT", '"v=spf1 a:mx.soft.example ~all"')
    server.add("mx.soft.example", "A", "198.51.100.7")
    server.add("loop.example", "TXT", '"v=spf1 include:loop.example -all"')
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("address", "sender", "result"),
    [
        ("192.0.2.9", "a@strict.example", "pass"),
        ("203.0.113.1", "a@strict.example", "fail"),
        ("198.51.100.7", "a@soft.example", "pass"),
        ("203.0.113.1", "a@soft.example", "softfail"),
        ("203.0.113.1", "a@nothing.example", "none"),
        ("203.0.113.1", "a@loop.example", "permerror"),
    ],
)
async def test_results(dns: DnsServer, address: str, sender: str, result: str) -> None:
    assert await spf_result(sync_resolver([dns.address], 2.0), address, sender, "") == result


async def test_no_answer_in_time_is_a_temperror() -> None:
    silent = sync_resolver([("127.0.0.1", 9)], 0.5)  # nothing answers on the discard port
    assert await spf_result(silent, "192.0.2.9", "a@strict.example", "") == "temperror"


async def test_concurrent_evaluations_keep_their_own_servers(dns: DnsServer) -> None:
    other = DnsServer("127.0.0.1", 0)
    other.start()
    other.add("strict.example", "TXT", '"v=spf1 -all"')
    try:
        ours, theirs = sync_resolver([dns.address], 2.0), sync_resolver([other.address], 2.0)
        found = await asyncio.gather(
            *(spf_result(r, "192.0.2.9", "a@strict.example", "") for r in (ours, theirs) * 5)
        )
        assert found == ["pass", "fail"] * 5
    finally:
        other.stop()
