"""SPF (RFC 7208) of a received message with pyspf, asking the configured name servers: the
result for the client's address and the envelope sender (or the HELO name)."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import dns.exception
import dns.rdatatype
import dns.resolver
import spf

MAX_SECONDS = 20.0  # one evaluation's DNS time in all (RFC 7208 4.6.4 asks for at least 20)
# pyspf asks DNS through its module's DNSLookup hook; ours reads the resolver from the
# context that asyncio.to_thread carries into the evaluating thread, so calls never mix.
_RESOLVER: contextvars.ContextVar[dns.resolver.Resolver | None] = contextvars.ContextVar(
    "spf_resolver", default=None
)


def sync_resolver(nameservers: list[tuple[str, int]], timeout: float) -> dns.resolver.Resolver:
    """A resolver for `nameservers` ((host, port); empty: the system's)."""
    if not nameservers:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host for host, _ in nameservers]
        resolver.nameserver_ports = dict(nameservers)
    resolver.lifetime = timeout
    return resolver


def _lookup(name: str, qtype: str, strict: bool = True, timeout: float = 20) -> list[Any]:
    """pyspf's DNSLookup contract: [((name, type), value) …] including CNAMEs met."""
    resolver = _RESOLVER.get()
    if resolver is None:
        raise spf.TempError("DNS: no resolver for this evaluation")
    try:
        lifetime = min(timeout, resolver.lifetime)  # the configured timeout bounds each query
        answer = resolver.resolve(name, qtype, lifetime=lifetime, raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise spf.TempError(f"DNS {exc.__class__.__name__}") from None
    found = []
    for rrset in answer.response.answer:
        kind = dns.rdatatype.to_text(rrset.rdtype)
        owner = rrset.name.to_text(omit_final_dot=True)
        for rdata in rrset:
            value = _value(kind, rdata)
            if value is not None:
                found.append(((owner, kind), value))
    return found


def _value(kind: str, rdata: Any) -> Any:
    if kind in ("A", "AAAA"):
        return rdata.address
    if kind == "MX":
        return (rdata.preference, rdata.exchange.to_text(omit_final_dot=True))
    if kind in ("PTR", "CNAME"):
        return rdata.target.to_text(omit_final_dot=True)
    if kind in ("TXT", "SPF"):
        return rdata.strings
    return None


async def spf_result(
    resolver: dns.resolver.Resolver, address: str, mail_from: str, helo: str
) -> str:
    """pass, fail, softfail, neutral, none, permerror or temperror."""
    spf.DNSLookup = _lookup
    token = _RESOLVER.set(resolver)
    try:
        result, _ = await asyncio.to_thread(
            spf.check2, i=address, s=mail_from, h=helo, timeout=MAX_SECONDS, querytime=MAX_SECONDS
        )
    except (spf.TempError, OSError):
        return "temperror"
    finally:
        _RESOLVER.reset(token)
    return str(result)
