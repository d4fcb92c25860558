"""The SPF walk of the deliverability check over a resolver of fixed answers: it follows
includes and redirects, resolves a and mx terms, and stops at its look-up budget."""

from __future__ import annotations

import asyncio

from mta.core.dns import DnsTemporaryError, MxRecord, NxDomain
from mta.services.deliverability_check import SpfWalk
from mta.services.spf import count_lookups, evaluate


class FixedDns:
    """TXT, MX and address answers by name; anything else does not exist."""

    def __init__(self, txt: dict[str, list[str]], addresses: dict[str, list[str]]) -> None:
        self._txt, self._addresses = txt, addresses
        self.asked: list[str] = []

    async def txt(self, name: str) -> list[str]:
        self.asked.append(name)
        if name == "broken.example":
            raise DnsTemporaryError(name)
        if name not in self._txt:
            raise NxDomain(name)
        return self._txt[name]

    async def mx(self, name: str) -> list[MxRecord]:
        self.asked.append(f"MX {name}")
        return [MxRecord(10, f"mx.{name}")]

    async def addresses(self, name: str) -> list[str]:
        self.asked.append(f"A {name}")
        return self._addresses.get(name, [])

    async def ptr(self, address: str) -> list[str]:
        raise NxDomain(address)


def test_the_walk_follows_includes_and_resolves_a_and_mx_terms() -> None:
    dns = FixedDns(
        {
            "d.example": ["v=spf1 include:i.example mx redirect=r.example", "not spf"],
            "i.example": ["v=spf1 a:out.i.example -all"],
            "r.example": ["v=spf1 -all"],
        },
        {"out.i.example": ["192.0.2.7"], "mx.d.example": ["192.0.2.8"]},
    )
    world = asyncio.run(SpfWalk(dns).gather("d.example"))
    assert world.records == {
        "d.example": ["v=spf1 include:i.example mx redirect=r.example"],
        "i.example": ["v=spf1 a:out.i.example -all"],
        "r.example": ["v=spf1 -all"],
    }
    assert evaluate(world, "d.example", "192.0.2.7") == "pass"
    assert evaluate(world, "d.example", "192.0.2.8") == "pass"
    assert evaluate(world, "d.example", "192.0.2.9") == "fail"
    assert count_lookups(world, "d.example") == 4


def test_the_walk_stops_at_its_budget_and_says_what_failed() -> None:
    chain = {f"n{i}.example": [f"v=spf1 include:n{i + 1}.example -all"] for i in range(100)}
    dns = FixedDns({**chain, "d.example": ["v=spf1 include:broken.example -all"]}, {})
    world = asyncio.run(SpfWalk(dns, max_queries=5).gather("n0.example"))
    assert len(dns.asked) == 5 and len(world.records) == 5
    broken = asyncio.run(SpfWalk(dns).gather("d.example"))
    assert "broken.example" not in broken.records
    assert broken.errors == ["broken.example: the DNS server failed or did not answer"]
    assert evaluate(broken, "d.example", "192.0.2.1") == "temperror"
