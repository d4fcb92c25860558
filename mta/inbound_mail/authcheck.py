"""Authentication of a received report: DKIM verification (dkimpy over keys prefetched with
our async resolver, so no blocking DNS runs on the event loop) and the Authentication-Results
the nearest trusted hop added (parsed with `authres`)."""

from __future__ import annotations

import email
import email.policy
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
    is `authserv_id`."""

    dkim: DkimResult = "none"
    dkim_domain: str = ""
    results: dict[str, str] = msgspec.field(default_factory=dict)
    authserv_id: str = ""


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


async def verify_dkim(data: bytes, headers: list[str], resolver: Resolver) -> tuple[str, str]:
    """(result, signing domain) over the first signatures: pass if any verifies."""
    outcome: tuple[str, str] = ("none", "")
    for index, value in enumerate(headers[:MAX_SIGNATURES]):
        tags = signature_tags(value)
        domain, selector = tags.get("d", "").lower(), tags.get("s", "")
        if not domain or not selector:
            outcome = ("fail", domain) if outcome[0] == "none" else outcome
            continue
        name = f"{selector}._domainkey.{domain}"
        try:
            key = await _fetch_key(resolver, name)
        except (DnsTemporaryError, DnsError):
            outcome = ("temperror", domain)
            continue
        answers = {name.lower().encode(): key}

        def dnsfunc(query: bytes, timeout: float = 5, _answers: dict = answers) -> bytes | None:  # type: ignore[type-arg]
            return _answers.get(query.lower().rstrip(b"."))

        try:
            verified = dkim.DKIM(data).verify(idx=index, dnsfunc=dnsfunc)
        except dkim.DKIMException:
            verified = False
        if verified:
            return "pass", domain
        if outcome[0] != "temperror":
            outcome = ("fail", domain)
    return outcome


async def check_authentication(
    data: bytes, resolver: Resolver, trusted: frozenset[str] | None = None
) -> AuthCheck:
    """The DKIM verdict and the nearest trusted hop's Authentication-Results of `data`."""
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    signatures = [str(value) for value in message.get_all("DKIM-Signature") or []]
    result, domain = await verify_dkim(data, signatures, resolver)
    values = [header_text(value) for value in message.get_all("Authentication-Results") or []]
    server, results = parse_authentication_results(values, trusted)
    return AuthCheck(
        dkim=result,  # type: ignore[arg-type]
        dkim_domain=domain,
        results=results,
        authserv_id=server,
    )
