"""Tests for the in-process test DNS server (tests/support/dns_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import dns.asyncquery
import dns.asyncresolver
import dns.flags
import dns.message
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver
import pytest

from tests.support.dns_server import DnsServer, txt_value

LONG_KEY = "p=" + "A" * 600  # > 255 bytes, must be split into several character-strings


@pytest.fixture
def server() -> Iterator[DnsServer]:
    with DnsServer() as srv:
        srv.add("example.com", "MX", "10 mx.example.com.")
        srv.add("Example.COM.", "MX", "20 mx2.example.com")
        srv.add("mx.example.com", "A", "127.0.0.2")
        srv.add("sel._domainkey.example.com", "TXT", txt_value("v=DKIM1; k=rsa; " + LONG_KEY))
        yield srv


def make_resolver(srv: DnsServer, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
    host, port = srv.address
    res = dns.asyncresolver.Resolver(configure=False)
    res.nameservers = [dns.nameserver.Do53Nameserver(host, port)]
    res.timeout = lifetime
    res.lifetime = lifetime
    return res


def test_binds_udp_and_tcp_same_port(server: DnsServer) -> None:
    host, port = server.address
    assert host == "127.0.0.1"
    assert port > 0


@pytest.mark.asyncio
async def test_a_record(server: DnsServer) -> None:
    answer = await make_resolver(server).resolve("MX.example.com", "A")
    assert [r.address for r in answer] == ["127.0.0.2"]
    assert answer.response.flags & dns.flags.AA
    assert answer.rrset is not None and answer.rrset.ttl == 60


@pytest.mark.asyncio
async def test_mx_records(server: DnsServer) -> None:
    answer = await make_resolver(server).resolve("example.com.", "MX")
    got = sorted((r.preference, r.exchange.to_text()) for r in answer)
    assert got == [(10, "mx.example.com."), (20, "mx2.example.com.")]


@pytest.mark.asyncio
async def test_txt_multi_string_joined(server: DnsServer) -> None:
    answer = await make_resolver(server).resolve("sel._domainkey.example.com", "TXT")
    (rdata,) = list(answer)
    assert len(rdata.strings) == 3
    assert all(len(s) <= 255 for s in rdata.strings)
    assert b"".join(rdata.strings) == ("v=DKIM1; k=rsa; " + LONG_KEY).encode()


def test_txt_value_escaping() -> None:
    assert txt_value("") == '""'
    assert txt_value('a"b\\c') == '"a\\"b\\\\c"'
    assert txt_value("x" * 256) == '"' + "x" * 255 + '" "x"'


@pytest.mark.asyncio
async def test_txt_value_round_trip(server: DnsServer) -> None:
    text = 'quote " backslash \\ semicolon ; ünïcode ' + "z" * 300
    server.set("rt.example.com", "TXT", [txt_value(text)])
    answer = await make_resolver(server).resolve("rt.example.com", "TXT")
    (rdata,) = list(answer)
    assert b"".join(rdata.strings).decode() == text


@pytest.mark.asyncio
async def test_nodata(server: DnsServer) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await make_resolver(server).resolve("mx.example.com", "AAAA")


@pytest.mark.asyncio
async def test_empty_non_terminal_is_nodata(server: DnsServer) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await make_resolver(server).resolve("_domainkey.example.com", "TXT")


@pytest.mark.asyncio
async def test_nxdomain(server: DnsServer) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await make_resolver(server).resolve("nope.example.com", "A")


@pytest.mark.asyncio
async def test_set_and_remove(server: DnsServer) -> None:
    res = make_resolver(server)
    server.set("mx.example.com", "A", ["127.0.0.3", "127.0.0.4"], ttl=30)
    answer = await res.resolve("mx.example.com", "A")
    assert sorted(r.address for r in answer) == ["127.0.0.3", "127.0.0.4"]
    assert answer.rrset is not None and answer.rrset.ttl == 30

    server.remove("example.com", "MX")
    with pytest.raises(dns.resolver.NoAnswer):  # mx.example.com still lives below it
        await res.resolve("example.com", "MX")

    server.remove("mx.example.com")
    with pytest.raises(dns.resolver.NXDOMAIN):
        await res.resolve("mx.example.com", "A")


@pytest.mark.asyncio
async def test_servfail(server: DnsServer) -> None:
    server.set_failure("example.com", "SERVFAIL")
    res = make_resolver(server)
    with pytest.raises(dns.resolver.NoNameservers):
        await res.resolve("example.com", "MX")
    # Only that exact name fails.
    assert len(list(await res.resolve("mx.example.com", "A"))) == 1
    server.clear_failure("example.com")
    assert len(list(await res.resolve("example.com", "MX"))) == 2


@pytest.mark.asyncio
async def test_timeout(server: DnsServer) -> None:
    server.set_failure("mx.example.com", "TIMEOUT")
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await make_resolver(server, lifetime=0.3).resolve("mx.example.com", "A")


@pytest.mark.asyncio
async def test_tcp_query(server: DnsServer) -> None:
    host, port = server.address
    query = dns.message.make_query("example.com", "MX")
    response = await dns.asyncquery.tcp(query, host, port=port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR
    assert len(response.answer[0]) == 2
    assert ("example.com.", "MX", "tcp") in server.queries


@pytest.mark.asyncio
async def test_large_udp_answer_truncated_then_tcp(server: DnsServer) -> None:
    host, port = server.address
    for i in range(40):
        server.add("big.example.com", "A", f"127.0.1.{i}")
    query = dns.message.make_query("big.example.com", "A", use_edns=False)
    udp = await dns.asyncquery.udp(query, host, port=port, timeout=2)
    assert udp.flags & dns.flags.TC

    # With EDNS and a big enough payload the whole answer fits in UDP.
    query_edns = dns.message.make_query("big.example.com", "A", use_edns=0, payload=4096)
    udp_edns = await dns.asyncquery.udp(query_edns, host, port=port, timeout=2)
    assert not udp_edns.flags & dns.flags.TC
    assert len(udp_edns.answer[0]) == 40

    # The resolver (no EDNS by default) falls back to TCP on TC and gets everything.
    answer = await make_resolver(server).resolve("big.example.com", "A")
    assert len(list(answer)) == 40
    transports = [t for name, _, t in server.queries if name == "big.example.com."]
    assert transports[-2:] == ["udp", "tcp"]


def test_restart_keeps_port() -> None:
    srv = DnsServer()
    srv.start()
    port = srv.address[1]
    srv.stop()
    srv.start()
    try:
        assert srv.address[1] == port
    finally:
        srv.stop()
