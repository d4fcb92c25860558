"""What a sender domain's DNS must say (DKIM, return-path MX and SPF, DMARC), as pure functions.

`expected_records` lists the records to publish; `check_record` compares one with what DNS
answered.
"""

from __future__ import annotations

import base64
import re
from typing import Literal

import idna
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RecordType = Literal["TXT", "MX"]
DKIM_SELECTOR = "scaisend1"
RETURN_PATH_LABEL = "bounces"
# Where reports come by default: an address at the return-path host, which the MX accepts
# (docs/reports.md); DMARC needs no external-destination record, being the same org domain.
DMARC_REPORT_LOCAL_PART = "dmarc"
TLSRPT_REPORT_LOCAL_PART = "tlsrpt"
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


class DnsRecord(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: RecordType
    host: str
    value: str
    purpose: str
    priority: int | None = None
    valid: bool | None = None
    reason: str | None = None
    found: list[str] | None = None  # what DNS answered at `host` when verified


class DkimKey(msgspec.Struct, frozen=True):
    private_pem: str
    public_b64: str


def normalise_domain(domain: str) -> str | None:
    """Lower-case, IDNA-encoded, no trailing dot; None when it is not a host name."""
    text = domain.strip().rstrip(".").lower()
    try:
        text = idna.encode(text, uts46=True).decode("ascii")  # IDNA 2008, not Python's 2003
    except (idna.IDNAError, UnicodeError):
        return None
    if text.rpartition(".")[2].isdigit():  # an IP literal, not a domain
        return None
    return text if DOMAIN_RE.fullmatch(text) else None


def generate_dkim_key(bits: int = 2048) -> DkimKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DkimKey(private_pem, base64.b64encode(public_der).decode())


def return_path_host(domain: str) -> str:
    return f"{RETURN_PATH_LABEL}.{domain}"


def report_address(local_part: str, rp_host: str) -> str:
    return f"{local_part}@{rp_host}"


def dmarc_value(policy: str, rua_email: str | None) -> str:
    value = f"v=DMARC1; p={policy}"
    return value + (f"; rua=mailto:{rua_email}" if rua_email else "")


def expected_records(
    *,
    domain: str,
    selector: str,
    public_key_b64: str,
    rp_host: str,
    smtp_hostname: str,
    dmarc_policy: str,
    dmarc_rua_email: str | None,
) -> list[DnsRecord]:
    return [
        DnsRecord(
            type="TXT",
            host=f"{selector}._domainkey.{domain}",
            value=f"v=DKIM1; k=rsa; p={public_key_b64}",
            purpose="dkim",
        ),
        DnsRecord(type="MX", host=rp_host, value=smtp_hostname, priority=10, purpose="return_path"),
        DnsRecord(type="TXT", host=rp_host, value=f"v=spf1 a:{smtp_hostname} ~all", purpose="spf"),
        DnsRecord(
            type="TXT",
            host=f"_dmarc.{domain}",
            # the account's own rua when it gave one; else ScaiSend's, shown in the dashboard
            value=dmarc_value(
                dmarc_policy, dmarc_rua_email or report_address(DMARC_REPORT_LOCAL_PART, rp_host)
            ),
            purpose="dmarc",
        ),
    ]


def record_tags(value: str) -> dict[str, str]:
    tags = {}
    for part in value.split(";"):
        name, sep, tag_value = part.partition("=")
        if sep:
            tags[name.strip().lower()] = re.sub(r"\s+", "", tag_value)
    return tags


def _spf_terms(value: str) -> list[str]:
    return value.lower().split()


def _txt_matches(record: DnsRecord, published: str) -> bool:
    if record.purpose == "spf":
        return _spf_terms(published) == _spf_terms(record.value)
    want, have = record_tags(record.value), record_tags(published)
    if record.purpose == "dkim":
        return have.get("p") == want["p"] and have.get("v", "DKIM1") == "DKIM1"
    if not re.match(r"v\s*=\s*DMARC1\s*(;|$)", published):  # RFC 7489 6.3: first, exact
        return False
    # ScaiSend's own default rua is asked for, not required: a record without it still holds
    optional = {"rua"} if _is_our_rua(want.get("rua", "")) else set()
    return all(
        have.get(name, "").lower() == value.lower()
        for name, value in want.items()
        if name not in optional
    )


def _is_our_rua(rua: str) -> bool:
    return rua.lower().startswith(f"mailto:{DMARC_REPORT_LOCAL_PART}@{RETURN_PATH_LABEL}.")


def check_record(record: DnsRecord, published: list[str]) -> tuple[bool, str | None]:
    """Whether `published` (TXT strings joined, or MX "pref host") holds the expected record."""
    if not published:
        return False, f"no {record.type} record found at {record.host}"
    if record.type == "MX":
        want = record.value.rstrip(".").lower()
        hosts = [text.split()[-1].rstrip(".").lower() for text in published]
        return (True, None) if want in hosts else (False, f"MX does not point to {want}")
    candidates = published
    if record.purpose == "spf":
        candidates = [text for text in published if text.lower().split()[:1] == ["v=spf1"]]
        if len(candidates) > 1:  # RFC 7208 4.5: several SPF records are a permerror
            return False, f"{len(candidates)} SPF records at {record.host}; publish only one"
    if any(_txt_matches(record, text) for text in candidates):
        return True, None
    return False, f"TXT at {record.host} does not match the expected value"
