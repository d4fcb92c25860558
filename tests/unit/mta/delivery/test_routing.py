"""Routing: MX ordering, null MX, static routes and the MX path through a fake resolver."""

from __future__ import annotations

import random
from collections.abc import Mapping

import pytest

from mta.core.dns import DnsError, DnsTemporaryError, MxRecord, NxDomain
from mta.core.errors import DeliveryFailure, PermanentFailure, TransientFailure
from mta.delivery.routing import NextHop, is_null_mx, order_mx, route

NX = NxDomain("no such name")
TEMP = DnsTemporaryError("SERVFAIL")


class FakeResolver:
    """The Resolver protocol over tables; an exception in a table is raised."""

    def __init__(
        self,
        mx: Mapping[str, list[MxRecord] | DnsError] | None = None,
        addresses: Mapping[str, list[str] | DnsError] | None = None,
    ) -> None:
        self._mx = dict(mx or {})
        self._addresses = dict(addresses or {})
        self.asked: list[tuple[str, str]] = []

    async def mx(self, name: str) -> list[MxRecord]:
        self.asked.append(("MX", name))
        answer = self._mx.get(name, NX)
        if isinstance(answer, DnsError):
            raise answer
        return answer

    async def txt(self, name: str) -> list[str]:
        self.asked.append(("TXT", name))
        raise NX

    async def addresses(self, name: str) -> list[str]:
        self.asked.append(("A", name))
        answer = self._addresses.get(name, NX)
        if isinstance(answer, DnsError):
            raise answer
        return answer

    async def ptr(self, address: str) -> list[str]:
        raise NxDomain(address)


def mx(*pairs: tuple[int, str]) -> list[MxRecord]:
    return [MxRecord(preference, host) for preference, host in pairs]


# order_mx ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], []),
        (mx((10, "a")), ["a"]),
        (mx((20, "b"), (10, "a")), ["a", "b"]),
        (mx((30, "c"), (0, "z"), (20, "b"), (10, "a")), ["z", "a", "b", "c"]),
        (mx((65535, "last"), (1, "first")), ["first", "last"]),
    ],
)
@pytest.mark.parametrize("seed", [0, 1, 2, 42])
def test_order_mx_by_preference(records: list[MxRecord], expected: list[str], seed: int) -> None:
    assert order_mx(records, random.Random(seed)) == expected


def test_order_mx_shuffles_equal_preferences_and_keeps_preference_order() -> None:
    records = mx((20, "b1"), (10, "a1"), (20, "b2"), (10, "a2"), (30, "c"))
    preference = {r.host: r.preference for r in records}
    seen: set[tuple[str, ...]] = set()
    for seed in range(64):
        ordered = order_mx(records, random.Random(seed))
        assert sorted(ordered) == sorted(preference)
        prefs = [preference[host] for host in ordered]
        assert prefs == sorted(prefs), ordered
        seen.add(tuple(ordered))
    assert seen == {
        ("a1", "a2", "b1", "b2", "c"),
        ("a1", "a2", "b2", "b1", "c"),
        ("a2", "a1", "b1", "b2", "c"),
        ("a2", "a1", "b2", "b1", "c"),
    }


def test_order_mx_does_not_reorder_its_input() -> None:
    records = mx((20, "b"), (10, "a"), (10, "c"))
    copy = list(records)
    order_mx(records, random.Random(3))
    assert records == copy


@pytest.mark.parametrize(
    ("records", "null"),
    [
        (mx((0, "")), True),
        (mx((0, ".")), True),
        (mx((10, "")), True),
        ([], False),
        (mx((0, "mx.example.com")), False),
        (mx((0, ""), (10, "mx.example.com")), False),
        (mx((0, "."), (0, ".")), False),
    ],
)
def test_is_null_mx(records: list[MxRecord], null: bool) -> None:
    assert is_null_mx(records) is null


# route ------------------------------------------------------------------------------------


async def _route(
    domain: str,
    resolver: FakeResolver,
    routes: dict[str, str] | None = None,
    smtp_port: int = 25,
    seed: int = 0,
) -> list[NextHop]:
    return await route(
        domain,
        routes=routes or {},
        resolver=resolver,
        smtp_port=smtp_port,
        rng=random.Random(seed),
    )


@pytest.mark.parametrize(
    ("routes", "addresses", "expected"),
    [
        (
            {"example.com": "relay.internal:2525"},
            {"relay.internal": ["10.1.1.1"]},
            [NextHop("relay.internal", "10.1.1.1", 2525)],
        ),
        (
            {"example.com": "relay.internal"},
            {"relay.internal": ["10.1.1.1", "fd00::1"]},
            [NextHop("relay.internal", "10.1.1.1", 587), NextHop("relay.internal", "fd00::1", 587)],
        ),
        (
            {"*": "smarthost.internal"},
            {"smarthost.internal": ["10.2.2.2"]},
            [NextHop("smarthost.internal", "10.2.2.2", 587)],
        ),
        (
            {"*": "smarthost.internal:26", "other.example": "x:1"},
            {"smarthost.internal": ["10.2.2.2"]},
            [NextHop("smarthost.internal", "10.2.2.2", 26)],
        ),
        (
            {"*": "smarthost.internal:26", "example.com": "direct.internal:27"},
            {"direct.internal": ["10.3.3.3"]},
            [NextHop("direct.internal", "10.3.3.3", 27)],
        ),
        ({"example.com": "192.0.2.7:2525"}, {}, [NextHop("192.0.2.7", "192.0.2.7", 2525)]),
        ({"example.com": "[2001:db8::7]:2525"}, {}, [NextHop("2001:db8::7", "2001:db8::7", 2525)]),
        ({"example.com": "2001:db8::7"}, {}, [NextHop("2001:db8::7", "2001:db8::7", 587)]),
    ],
)
async def test_static_route(
    routes: dict[str, str], addresses: dict[str, list[str]], expected: list[NextHop]
) -> None:
    resolver = FakeResolver(mx={"example.com": mx((10, "mx.example.com"))}, addresses=addresses)
    assert await _route("example.com", resolver, routes=routes, smtp_port=587) == expected
    assert ("MX", "example.com") not in resolver.asked  # a static route skips MX


@pytest.mark.parametrize("failure", [NX, TEMP])
async def test_static_route_host_without_address_is_transient(failure: DnsError) -> None:
    resolver = FakeResolver(addresses={"relay.internal": failure})
    with pytest.raises(TransientFailure) as caught:
        await _route("example.com", resolver, routes={"*": "relay.internal"})
    assert (caught.value.reply.code, caught.value.reply.enhanced) == (451, "4.4.4")


async def test_mx_hosts_and_addresses_in_order() -> None:
    resolver = FakeResolver(
        mx={"example.com": mx((20, "mx2.example.com"), (10, "mx1.example.com"))},
        addresses={
            "mx1.example.com": ["192.0.2.1", "2001:db8::1"],
            "mx2.example.com": ["192.0.2.2"],
        },
    )
    assert await _route("example.com", resolver, smtp_port=2525) == [
        NextHop("mx1.example.com", "192.0.2.1", 2525),
        NextHop("mx1.example.com", "2001:db8::1", 2525),
        NextHop("mx2.example.com", "192.0.2.2", 2525),
    ]


@pytest.mark.parametrize("failure", [NX, TEMP])
async def test_mx_host_without_address_is_skipped(failure: DnsError) -> None:
    resolver = FakeResolver(
        mx={
            "example.com": mx(
                (10, "gone.example.com"), (20, "empty.example.com"), (30, "ok.example.com")
            )
        },
        addresses={
            "gone.example.com": failure,
            "empty.example.com": [],
            "ok.example.com": ["192.0.2.3"],
        },
    )
    assert await _route("example.com", resolver) == [NextHop("ok.example.com", "192.0.2.3", 25)]


async def test_mx_host_given_as_ip_is_used_without_lookup() -> None:
    resolver = FakeResolver(mx={"example.com": mx((10, "192.0.2.9"))})
    assert await _route("example.com", resolver) == [NextHop("192.0.2.9", "192.0.2.9", 25)]
    assert ("A", "192.0.2.9") not in resolver.asked


async def test_implicit_mx_is_the_domain_itself() -> None:
    resolver = FakeResolver(mx={"example.com": []}, addresses={"example.com": ["192.0.2.10"]})
    assert await _route("example.com", resolver) == [NextHop("example.com", "192.0.2.10", 25)]


@pytest.mark.parametrize("records", [mx((0, "")), mx((0, "."))])
async def test_null_mx_is_permanent(records: list[MxRecord]) -> None:
    resolver = FakeResolver(mx={"example.com": records})
    with pytest.raises(PermanentFailure) as caught:
        await _route("example.com", resolver)
    assert (caught.value.reply.code, caught.value.reply.enhanced) == (556, "5.1.10")
    assert caught.value.scope == "destination"
    assert "example.com" in caught.value.reply.text


@pytest.mark.parametrize(
    ("mx_answer", "addresses", "kind", "code", "enhanced"),
    [
        (NX, {}, PermanentFailure, 550, "5.1.2"),
        (TEMP, {}, TransientFailure, 451, "4.4.3"),
        ([], {}, TransientFailure, 451, "4.4.4"),
        ([], {"example.com": []}, TransientFailure, 451, "4.4.4"),
        ([], {"example.com": TEMP}, TransientFailure, 451, "4.4.4"),
        (mx((10, "a.example.com"), (20, "b.example.com")), {}, TransientFailure, 451, "4.4.4"),
        (
            mx((10, "a.example.com")),
            {"a.example.com": TEMP},
            TransientFailure,
            451,
            "4.4.4",
        ),
    ],
)
async def test_route_failures(
    mx_answer: list[MxRecord] | DnsError,
    addresses: dict[str, list[str] | DnsError],
    kind: type[DeliveryFailure],
    code: int,
    enhanced: str,
) -> None:
    resolver = FakeResolver(mx={"example.com": mx_answer}, addresses=addresses)
    with pytest.raises(DeliveryFailure) as caught:
        await _route("example.com", resolver)
    assert type(caught.value) is kind
    assert (caught.value.reply.code, caught.value.reply.enhanced) == (code, enhanced)
    assert caught.value.reply.transient is (kind is TransientFailure)
    assert caught.value.scope == "destination"


async def test_equal_preference_mx_hosts_follow_the_rng() -> None:
    resolver = FakeResolver(
        mx={"example.com": mx((10, "a.example.com"), (10, "b.example.com"))},
        addresses={"a.example.com": ["192.0.2.1"], "b.example.com": ["192.0.2.2"]},
    )
    firsts = {(await _route("example.com", resolver, seed=seed))[0].host for seed in range(32)}
    assert firsts == {"a.example.com", "b.example.com"}
