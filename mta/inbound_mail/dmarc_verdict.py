"""The DMARC verdict of a received message (RFC 7489 section 6.6, pure): does an SPF or DKIM
pass align with the From domain, and what policy does the From domain's record ask for."""

from __future__ import annotations

import re

import msgspec

_TAG = re.compile(r"\s*([a-z]+)\s*=\s*([^;]*)")


class DmarcVerdict(msgspec.Struct, frozen=True):
    result: str  # pass, fail, none (no record), permerror (several records)
    policy: str  # the record's p= ("" without a record)

    def field(self) -> str:
        """As the parse form reports it: `pass`, `none`, or `fail (p=reject)`."""
        return f"{self.result} (p={self.policy})" if self.result == "fail" else self.result


def organizational(domain: str) -> str:
    """The domain's last two labels: the organizational domain for the usual names. Without
    the Public Suffix List a name under a two-label suffix (example.co.uk) reads as co.uk,
    so relaxed alignment is looser there than RFC 7489 asks."""
    labels = domain.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


def record_tags(records: list[str]) -> dict[str, str] | None:
    """The tags of the one DMARC record among `records` (None: none, {}: several)."""
    found = [r for r in records if r.replace(" ", "").lower().startswith("v=dmarc1")]
    if len(found) != 1:
        return None if not found else {}
    return {name.lower(): value.strip() for name, value in _TAG.findall(found[0])}


def aligned(identifier: str, from_domain: str, strict: bool) -> bool:
    identifier, from_domain = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if strict:
        return identifier == from_domain
    return organizational(identifier) == organizational(from_domain)


def verdict(
    records: list[str],
    from_domain: str,
    spf_result: str,
    spf_domain: str,
    dkim_passed: tuple[str, ...],
) -> DmarcVerdict:
    """`records`: the TXT strings at _dmarc.<From domain>, or at its organizational domain
    when the From domain has none."""
    tags = record_tags(records)
    if tags is None:
        return DmarcVerdict("none", "")
    if not tags:
        return DmarcVerdict("permerror", "")
    policy = tags.get("p", "none")
    spf_ok = spf_result == "pass" and aligned(spf_domain, from_domain, tags.get("aspf") == "s")
    dkim_ok = any(aligned(d, from_domain, tags.get("adkim") == "s") for d in dkim_passed)
    return DmarcVerdict("pass" if spf_ok or dkim_ok else "fail", policy)
