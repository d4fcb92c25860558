"""The Resolver seam: typed MX / TXT / address look-ups through dnspython.

Answers are cached by TTL; NXDOMAIN, no data and temporary failures are told apart.
"""

from __future__ import annotations

from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.rdatatype
import dns.resolver
import dns.reversename
import msgspec

from config.checks import parse_hostport
from config.settings import DnsSettings
from mta.core.clock import Clock, SystemClock
from mta.core.metrics import Metrics


class DnsError(Exception):
    """Base of look-up failures."""


class NxDomain(DnsError):
    """The name does not exist."""


class DnsTemporaryError(DnsError):
    """SERVFAIL, timeout or no reachable server: try again later."""


class MxRecord(msgspec.Struct, frozen=True):
    preference: int
    host: str


class Resolver(Protocol):
    async def mx(self, name: str) -> list[MxRecord]: ...
    async def txt(self, name: str) -> list[str]: ...
    async def addresses(self, name: str) -> list[str]: ...
    async def ptr(self, address: str) -> list[str]: ...


class DnsResolver:
    """Resolver over dnspython; empty nameservers → the system's resolv.conf."""

    def __init__(
        self, settings: DnsSettings, metrics: Metrics | None = None, clock: Clock | None = None
    ) -> None:
        self._metrics = metrics
        self._clock = clock or SystemClock()
        if settings.nameservers:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [
                dns.nameserver.Do53Nameserver(*parse_hostport(server, default_port=53))
                for server in settings.nameservers
            ]
        else:
            self._resolver = dns.asyncresolver.Resolver()
        self._resolver.lifetime = settings.timeout_seconds
        self._cache: dict[tuple[str, str], tuple[float, list[str]]] = {}

    async def _query(self, name: str, rdtype: str) -> list[str]:
        """Presentation-format answers; [] for no data; NxDomain / DnsTemporaryError."""
        key = (name.lower().rstrip("."), rdtype)
        cached = self._cache.get(key)
        if cached and cached[0] > self._clock.monotonic():
            return cached[1]
        try:
            answer = await self._resolver.resolve(key[0] + ".", rdtype, search=False)
        except dns.resolver.NXDOMAIN:
            self._count_error("nxdomain")
            raise NxDomain(name) from None
        except dns.resolver.NoAnswer:
            return []
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            self._count_error("timeout" if isinstance(exc, dns.exception.Timeout) else "servfail")
            raise DnsTemporaryError(f"{name} {rdtype}: {exc.__class__.__name__}") from None
        values = [_rdata_text(rdata, rdtype) for rdata in answer]
        ttl = answer.rrset.ttl if answer.rrset is not None else 0
        self._cache[key] = (self._clock.monotonic() + ttl, values)
        return values

    def _count_error(self, kind: str) -> None:
        if self._metrics is not None:
            self._metrics.dns_error(kind)

    async def mx(self, name: str) -> list[MxRecord]:
        records = []
        for text in await self._query(name, "MX"):
            preference, _, host = text.partition(" ")
            records.append(MxRecord(int(preference), host.rstrip(".").lower()))
        return records

    async def txt(self, name: str) -> list[str]:
        return await self._query(name, "TXT")

    async def addresses(self, name: str) -> list[str]:
        found: list[str] = []
        for rdtype in ("A", "AAAA"):
            try:
                found.extend(await self._query(name, rdtype))
            except NxDomain:
                if rdtype == "A":
                    raise
        return found

    async def ptr(self, address: str) -> list[str]:
        """The names an IP address's reverse (in-addr.arpa / ip6.arpa) record gives."""
        reverse = dns.reversename.from_address(address).to_text(omit_final_dot=True)
        return [name.rstrip(".").lower() for name in await self._query(reverse, "PTR")]


def _rdata_text(rdata: object, rdtype: str) -> str:
    if rdtype == "TXT":
        strings: tuple[bytes, ...] = getattr(rdata, "strings", ())
        return b"".join(strings).decode("utf-8", "replace")
    return str(rdata)
