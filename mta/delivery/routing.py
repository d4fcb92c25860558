"""Where to deliver a recipient domain: a static route, or its MX hosts through DNS.

Ordering follows RFC 5321 (preference, random among equals); implicit MX and null MX are
handled; DNS failures become transient or permanent delivery failures.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence

import msgspec

from config.checks import parse_hostport
from mta.core.dns import DnsTemporaryError, MxRecord, NxDomain, Resolver
from mta.core.errors import PermanentFailure, TransientFailure
from queue_store.entries import SmtpReply


class NextHop(msgspec.Struct, frozen=True):
    host: str
    address: str
    port: int


def order_mx(records: Sequence[MxRecord], rng: random.Random) -> list[str]:
    """Hosts by preference, shuffled among equal preferences."""
    shuffled = list(records)
    rng.shuffle(shuffled)
    return [record.host for record in sorted(shuffled, key=lambda r: r.preference)]


def is_null_mx(records: Sequence[MxRecord]) -> bool:
    return len(records) == 1 and records[0].host in ("", ".")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _addresses(resolver: Resolver, host: str) -> list[str]:
    if _is_ip(host):
        return [host]
    try:
        return await resolver.addresses(host)
    except (NxDomain, DnsTemporaryError):
        return []


async def _mx_hosts(resolver: Resolver, domain: str, rng: random.Random) -> list[str]:
    try:
        records = await resolver.mx(domain)
    except NxDomain:
        raise PermanentFailure(
            SmtpReply(550, "5.1.2", f"domain {domain} does not exist"), "destination"
        ) from None
    except DnsTemporaryError as exc:
        raise TransientFailure(
            SmtpReply(451, "4.4.3", f"DNS lookup failed: {exc}"), "destination"
        ) from None
    if is_null_mx(records):
        raise PermanentFailure(
            SmtpReply(556, "5.1.10", f"domain {domain} accepts no mail (null MX)"), "destination"
        )
    return order_mx(records, rng) if records else [domain]


async def route(
    domain: str, *, routes: dict[str, str], resolver: Resolver, smtp_port: int, rng: random.Random
) -> list[NextHop]:
    """Every next hop to try for `domain`, in order."""
    static = routes.get(domain) or routes.get("*")
    if static:
        host, port = parse_hostport(static, default_port=smtp_port)
        hosts = [host]
    else:
        hosts, port = await _mx_hosts(resolver, domain, rng), smtp_port
    hops = [
        NextHop(host, address, port)
        for host in hosts
        for address in await _addresses(resolver, host)
    ]
    if not hops:
        raise TransientFailure(
            SmtpReply(451, "4.4.4", f"no address found for {domain}'s mail hosts"), "destination"
        )
    return hops
