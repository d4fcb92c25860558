"""Authentication of a received report: DKIM verification (dkimpy over keys prefetched with
our async resolver, so no blocking DNS runs on the event loop) and the Authentication-Results
the nearest trusted hop added (parsed with `authres`)."""

from __future__ import annotations

import email
import email.parser
import email.policy
from email.utils import getaddresses
from typing import Literal

import authres
import dkim
import msgspec

from mta.core.dns import DnsError, DnsTemporaryError, NxDomain, Resolver
from mta.inbound_mail.parsing.parts import header_text

DkimResult = Literal["pass", "fail", "none", "temperror"]
MAX_SIGNATURES = 5  # more than any honest message carries


class AuthCheck(msgspec.Struct, frozen=True, kw_only=True):
    """`dkim` is the best result over the message's DKIM signatures and `dkim_domain` the
    signing domain (d=) it speaks of; `results` maps method to result (e.g. {"dkim": "pass",
    "spf": "fail"}) from the nearest trusted hop's Authentication-Results, whose authserv-id
    is `authserv_id`. `dkim_passed` lists every domain whose signature verified and
    `from_domain` is the domain of the message's From."""

    dkim: DkimResult = "none"
    dkim_domain: str = ""
    results: dict[str, str] = msgspec.field(default_factory=dict)
    authserv_id: str = ""
    dkim_passed: tuple[str, ...] = ()
    from_domain: str = ""


def signature_tags(value: str) -> dict[str, str]:
    """The tag=value pairs of a DKIM-Signature header value (names lower-case)."""
    tags: dict[str, str] = {}
    for item in value.split(";"):
        name, sep, tag_value = item.partition("=")
        if sep:
            tags[name.strip().lower()] = "".join(tag_value.split())
    return tags


def parse_authentication_results(
    values: list[str], trusted: frozenset[str] | None = None
) -> tuple[str, dict[str, str]]:
    """(authserv-id, {method: result}) of the first (topmost, so nearest) header whose
    authserv-id is trusted (any when `trusted` is None); ("", {}) when none parses."""
    for value in values:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # authres raises several unrelated types on junk
            continue
        server = str(header.authserv_id or "").lower()
        if trusted is not None and server not in trusted:
            continue
        results: dict[str, str] = {}
        for result in header.results:
            results.setdefault(str(result.method).lower(), str(result.result).lower())
        return server, results
    return "", {}


async def _fetch_key(resolver: Resolver, name: str) -> bytes | None:
    """The selector's TXT record; None when absent; DnsTemporaryError propagates."""
    try:
        records = await resolver.txt(name)
    except NxDomain:
        return None
    return records[0].encode() if records else None


class DkimVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """The best result over the signatures checked, the domain it speaks of, and every
    domain whose signature verified."""

    result: DkimResult = "none"
    domain: str = ""
    passed: tuple[str, ...] = ()


async def _verify_one(data: bytes, index: int, value: str, resolver: Resolver) -> tuple[str, str]:
    """(pass | fail | temperror, d=) of signature `index`."""
    tags = signature_tags(value)
    domain, selector = tags.get("d", "").lower(), tags.get("s", "")
    if not domain or not selector:
        return "fail", domain
    name = f"{selector}._domainkey.{domain}"
    try:
        key = await _fetch_key(resolver, name)
    except (DnsTemporaryError, DnsError):
        return "temperror", domain
    answers = {name.lower().encode(): key}

    def dnsfunc(query: bytes, timeout: float = 5, _answers: dict = answers) -> bytes | None:  # type: ignore[type-arg]
        return _answers.get(query.lower().rstrip(b"."))

    try:
        verified = dkim.DKIM(data).verify(idx=index, dnsfunc=dnsfunc)
    except dkim.DKIMException:
        verified = False
    return ("pass" if verified else "fail"), domain


async def verify_dkim(data: bytes, headers: list[str], resolver: Resolver) -> DkimVerdict:
    """The verdict over the first signatures: pass if any verifies (the first that does
    names the domain), temperror if a key could not be fetched, else fail; none unsigned."""
    results = [
        await _verify_one(data, index, value, resolver)
        for index, value in enumerate(headers[:MAX_SIGNATURES])
    ]
    passed = tuple(domain for result, domain in results if result == "pass")
    if passed:
        return DkimVerdict(result="pass", domain=passed[0], passed=passed)
    for wanted in ("temperror", "fail"):
        domains = [domain for result, domain in results if result == wanted]
        if domains:
            return DkimVerdict(result=wanted, domain=domains[0])
    return DkimVerdict()


def domain_of(value: str) -> str:
    """The lower-case domain of the first address in a From header value; "" if none."""
    found = [address for _, address in getaddresses([value]) if "@" in address]
    return found[0].rpartition("@")[2].rstrip(".").lower() if found else ""


def aligned(check: AuthCheck) -> bool:
    """Whether a verified DKIM signature speaks for the message's From domain: d= is that
    domain or a parent of it (relaxed alignment, short of a public-suffix list)."""
    sender = check.from_domain
    return bool(sender) and any(
        "." in domain and (sender == domain or sender.endswith("." + domain))
        for domain in check.dkim_passed
    )


class AuthHeaders(msgspec.Struct, frozen=True, kw_only=True):
    """What the check reads from the header: the DKIM signatures, the Authentication-Results
    values (topmost first) and the From domain."""

    signatures: list[str]
    results: list[str]
    from_domain: str


def auth_headers(data: bytes) -> AuthHeaders:
    """The header fields the check needs (a header-only parse: cheap, bounded by the MX's
    message size limit)."""
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    message = parser.parsebytes(data, headersonly=True)
    return AuthHeaders(
        signatures=[str(value) for value in message.get_all("DKIM-Signature") or []],
        results=[header_text(value) for value in message.get_all("Authentication-Results") or []],
        from_domain=domain_of(header_text(message.get("From", ""))),
    )


async def check_authentication(
    data: bytes,
    resolver: Resolver,
    trusted: frozenset[str] | None = None,
    headers: AuthHeaders | None = None,
) -> AuthCheck:
    """The DKIM verdict and the nearest trusted hop's Authentication-Results of `data`
    (`headers`: auth_headers(data), when already read)."""
    headers = headers or auth_headers(data)
    verdict = await verify_dkim(data, headers.signatures, resolver)
    server, results = parse_authentication_results(headers.results, trusted)
    return AuthCheck(
        dkim=verdict.result,
        dkim_domain=verdict.domain,
        results=results,
        authserv_id=server,
        dkim_passed=verdict.passed,
        from_domain=headers.from_domain,
    )
