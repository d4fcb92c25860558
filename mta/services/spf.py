"""SPF (RFC 7208) as pure functions over DNS answers gathered beforehand: parse a record's
terms, count the DNS-querying terms a receiver would evaluate, and evaluate an address.

Macros and `exists` are counted but never match here: the check says what it could not tell.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

import msgspec

SpfResult = Literal["pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"]
LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: DNS-querying terms per evaluation
MAX_DEPTH = 10  # include / redirect nesting we follow (a loop is a permerror anyway)
QUALIFIERS: dict[str, SpfResult] = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
QUERYING = ("include", "a", "mx", "ptr", "exists")


class SpfWorld(msgspec.Struct, kw_only=True):
    """What DNS said for one evaluation: the SPF records at every domain visited (absent: not
    asked; [] none published), the addresses behind each `a` target and `mx:` target."""

    records: dict[str, list[str]] = msgspec.field(default_factory=dict)
    addresses: dict[str, list[str]] = msgspec.field(default_factory=dict)
    errors: list[str] = msgspec.field(default_factory=list)  # look-ups that failed or timed out


class Term(msgspec.Struct, frozen=True):
    qualifier: str  # + - ~ ?
    name: str  # all, ip4, ip6, a, mx, include, exists, ptr; or a modifier (redirect, exp)
    target: str  # the domain or network ("" when none)
    cidr: str  # "/24" etc. on a and mx ("" when none)
    modifier: bool = False


def is_spf(text: str) -> bool:
    return text.lower().split()[:1] == ["v=spf1"]


def spf_records(txt: list[str]) -> list[str]:
    return [text for text in txt if is_spf(text)]


def parse_terms(record: str, domain: str) -> list[Term]:
    """The terms after `v=spf1`; a mechanism without a target names `domain`."""
    terms = []
    for raw in record.split()[1:]:
        name, sep, value = raw.partition("=")
        if sep and ":" not in name and "/" not in name:
            terms.append(Term("+", name.lower(), value.lower(), "", modifier=True))
            continue
        qualifier = raw[0] if raw[0] in QUALIFIERS else "+"
        body = raw[1:] if raw[0] in QUALIFIERS else raw
        name, _, target = body.partition(":")
        name, slash, cidr = name.lower().partition("/")  # a/24, mx//64
        cidr = slash + cidr
        if name in ("a", "mx") and "/" in target:  # a:host/24
            target, slash, rest = target.partition("/")
            cidr = slash + rest
        if name in ("a", "mx", "ptr") and not target:
            target = domain
        terms.append(Term(qualifier, name, target.lower(), cidr))
    return terms


def redirect_of(terms: list[Term]) -> str | None:
    return next((t.target for t in terms if t.modifier and t.name == "redirect"), None)


def followed(terms: list[Term]) -> list[str]:
    """The domains whose records this record's evaluation may read (include, redirect)."""
    found = [t.target for t in terms if not t.modifier and t.name == "include"]
    redirect = redirect_of(terms)
    return found + ([redirect] if redirect else [])


def count_lookups(
    world: SpfWorld, domain: str, depth: int = 0, seen: frozenset[str] = frozenset()
) -> int:
    """DNS-querying terms (include, a, mx, ptr, exists, redirect) in `domain`'s record and
    everything it includes, as a receiver evaluating every branch would count them."""
    records = world.records.get(domain) or []
    if len(records) != 1 or depth > MAX_DEPTH or domain in seen:
        return 0
    terms = parse_terms(records[0], domain)
    own = sum(1 for t in terms if not t.modifier and t.name in QUERYING)
    own += 1 if redirect_of(terms) else 0
    inner = seen | {domain}
    return own + sum(count_lookups(world, name, depth + 1, inner) for name in followed(terms))


def evaluate(world: SpfWorld, domain: str, address: str, depth: int = 0) -> SpfResult:
    """check_host() for `address` with what `world` holds (RFC 7208 4 and 5, no macros)."""
    if depth > MAX_DEPTH:
        return "permerror"
    if domain not in world.records:
        return "temperror"
    records = world.records[domain]
    if not records:
        return "none"
    if len(records) > 1:
        return "permerror"
    terms = parse_terms(records[0], domain)
    for term in terms:
        if term.modifier:
            continue
        matched = _matches(world, term, address, depth)
        if not isinstance(matched, bool):  # an error ends the evaluation
            return matched
        if matched:
            return QUALIFIERS[term.qualifier]
    redirect = redirect_of(terms)
    if redirect:
        result = evaluate(world, redirect, address, depth + 1)
        return "permerror" if result == "none" else result
    return "neutral"


def _matches(world: SpfWorld, term: Term, address: str, depth: int) -> bool | SpfResult:
    """Whether `term` matches `address`, or the error that ends the evaluation."""
    ip = ipaddress.ip_address(address)
    if term.name == "all":
        return True
    if term.name in ("ip4", "ip6"):
        try:
            return ip in ipaddress.ip_network(term.target, strict=False)
        except ValueError:
            return "permerror"
    if term.name in ("a", "mx"):
        key = term.target if term.name == "a" else f"mx:{term.target}"
        return any(_within(ip, found, term.cidr) for found in world.addresses.get(key, []))
    if term.name == "include":
        result = evaluate(world, term.target, address, depth + 1)
        if result in ("permerror", "none"):
            return "permerror"
        return "temperror" if result == "temperror" else result == "pass"
    return False  # exists, ptr and anything unknown: not evaluated here


def _within(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, found: str, cidr: str) -> bool:
    try:
        other = ipaddress.ip_address(found)
    except ValueError:
        return False
    if other.version != ip.version:
        return False
    v4, _, v6 = cidr.partition("//")  # "/24", "//64", "/24//64"
    length = v4.lstrip("/") if ip.version == 4 else v6
    try:
        network = ipaddress.ip_network(f"{other}/{length}" if length else str(other), strict=False)
    except ValueError:
        return False
    return ip in network
