"""Sender-domain DNS policy: domain normalisation, the records to publish, and comparing them
with what DNS answered."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mta.services.dns_records import (
    DKIM_SELECTOR,
    DnsRecord,
    check_record,
    dmarc_value,
    expected_records,
    generate_dkim_key,
    normalise_domain,
    return_path_host,
)

KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu+/5x=="
SMTP_HOST = "mta.scaisend.test"


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  Mail.Example.com.  ", "mail.example.com"),
        ("sub.domain-with-dash.example", "sub.domain-with-dash.example"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("b\u00fccher.de", "xn--bcher-kva.de"),
        ("B\u00dcCHER.DE", "xn--bcher-kva.de"),
        ("\u4f8b\u3048.jp", "xn--r8jz45g.jp"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
    ],
)
def test_normalise_domain(domain: str, expected: str) -> None:
    assert normalise_domain(domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "",
        ".",
        "localhost",  # a single label is not a sending domain
        "a..example",
        ".example.com",
        "-a.example",
        "a-.example",
        "exa mple.com",
        "under_score.example",
        "user@example.com",
        "example.com/path",
        "a" * 64 + ".com",
        ("a" * 60 + ".") * 5 + "com",  # over 253 characters
    ],
)
def test_normalise_domain_refuses(domain: str) -> None:
    assert normalise_domain(domain) is None


def test_normalise_domain_refuses_ip_literal() -> None:
    assert normalise_domain("192.0.2.1") is None


def test_normalise_domain_uses_idna_2008() -> None:
    assert normalise_domain("stra\u00dfe.de") == "xn--strae-oqa.de"


def _records(rua: str | None = "dmarc@example.com") -> list[DnsRecord]:
    return expected_records(
        domain="example.com",
        selector=DKIM_SELECTOR,
        public_key_b64=KEY,
        rp_host=return_path_host("example.com"),
        smtp_hostname=SMTP_HOST,
        dmarc_policy="quarantine",
        dmarc_rua_email=rua,
    )


def _record(purpose: str, rua: str | None = "dmarc@example.com") -> DnsRecord:
    (record,) = [r for r in _records(rua) if r.purpose == purpose]
    return record


def test_expected_records_shape() -> None:
    shape = [(r.purpose, r.type, r.host, r.value, r.priority) for r in _records()]
    assert shape == [
        ("dkim", "TXT", "scaisend1._domainkey.example.com", f"v=DKIM1; k=rsa; p={KEY}", None),
        ("return_path", "MX", "bounces.example.com", SMTP_HOST, 10),
        ("spf", "TXT", "bounces.example.com", f"v=spf1 a:{SMTP_HOST} ~all", None),
        (
            "dmarc",
            "TXT",
            "_dmarc.example.com",
            "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com",
            None,
        ),
    ]
    assert all(r.valid is None and r.reason is None for r in _records())


@pytest.mark.parametrize(
    ("policy", "rua", "expected"),
    [
        ("none", None, "v=DMARC1; p=none"),
        ("reject", "agg@example.com", "v=DMARC1; p=reject; rua=mailto:agg@example.com"),
        ("quarantine", "", "v=DMARC1; p=quarantine"),
    ],
)
def test_dmarc_value(policy: str, rua: str | None, expected: str) -> None:
    assert dmarc_value(policy, rua) == expected


SPLIT_KEY = KEY[:20] + " " + KEY[20:40] + "\t" + KEY[40:]


@pytest.mark.parametrize(
    ("purpose", "published", "valid"),
    [
        # DKIM
        ("dkim", [f"v=DKIM1; k=rsa; p={KEY}"], True),
        ("dkim", [f"v=DKIM1;k=rsa;p={KEY}"], True),
        ("dkim", [f"v=DKIM1; k=rsa; p={SPLIT_KEY}"], True),
        ("dkim", [f"  v = DKIM1 ;  k=rsa ;  p = {KEY} ; "], True),
        ("dkim", [f"k=rsa; p={KEY}"], True),  # v= is optional, DKIM1 by default
        ("dkim", ["unrelated=1", f"v=DKIM1; k=rsa; p={KEY}"], True),
        ("dkim", [f"v=DKIM1; k=rsa; p={KEY[:-3]}B=="], False),
        ("dkim", [f"v=DKIM1; k=rsa; p={KEY.lower()}"], False),
        ("dkim", ["v=DKIM1; k=rsa; p="], False),
        ("dkim", ["v=DKIM1; k=rsa"], False),
        ("dkim", [f"v=DKIM2; k=rsa; p={KEY}"], False),
        # SPF
        ("spf", [f"v=spf1 a:{SMTP_HOST} ~all"], True),
        ("spf", [f"v=spf1   a:{SMTP_HOST}    ~all  "], True),
        ("spf", [f"V=SPF1 A:{SMTP_HOST.upper()} ~ALL"], True),
        ("spf", ["google-site-verification=abc", f"v=spf1 a:{SMTP_HOST} ~all"], True),
        ("spf", [f"v=spf1 a:{SMTP_HOST} ~all", "v=DMARC1; p=none"], True),
        ("spf", [f"v=spf1 a:{SMTP_HOST} -all"], False),
        ("spf", [f"v=spf1 include:_spf.example.net a:{SMTP_HOST} ~all"], False),
        ("spf", ["v=spf1 a:other.example ~all"], False),
        ("spf", ["google-site-verification=abc"], False),
        # DMARC
        ("dmarc", ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"], True),
        ("dmarc", ["v=DMARC1; rua=mailto:dmarc@example.com; p=quarantine"], True),
        ("dmarc", ["v=DMARC1; p=Quarantine; rua=mailto:DMARC@Example.COM"], True),
        ("dmarc", ["v=DMARC1;p=quarantine;rua=mailto:dmarc@example.com;pct=100"], True),
        ("dmarc", ["v=DMARC1; pct=100; rua=mailto:dmarc@example.com; p=quarantine"], True),
        ("dmarc", ["v=DMARC1; p=quarantine"], False),
        ("dmarc", ["v=DMARC1; p=quarantine; rua=mailto:other@example.com"], False),
        ("dmarc", ["v=DMARC1; p=none; rua=mailto:dmarc@example.com"], False),
        ("dmarc", ["p=quarantine; rua=mailto:dmarc@example.com"], False),
        # MX
        ("return_path", [f"10 {SMTP_HOST}"], True),
        ("return_path", [f"10 {SMTP_HOST}."], True),
        ("return_path", [f"10 {SMTP_HOST.upper()}."], True),
        ("return_path", [f"20 {SMTP_HOST}"], True),
        ("return_path", ["10 backup.example.net.", f"20 {SMTP_HOST}."], True),
        ("return_path", ["10 backup.example.net."], False),
        ("return_path", [f"10 x{SMTP_HOST}"], False),
    ],
)
def test_check_record(purpose: str, published: list[str], valid: bool) -> None:
    ok, reason = check_record(_record(purpose), published)
    assert ok is valid
    assert (reason is None) is valid


@pytest.mark.parametrize(
    ("purpose", "published"),
    [("dmarc", ["v=DMARC1; p=quarantine"]), ("dmarc", ["v=DMARC1; p=quarantine; pct=50"])],
)
def test_dmarc_without_rua_expected_accepts_any_rua(purpose: str, published: list[str]) -> None:
    assert check_record(_record(purpose, rua=None), published) == (True, None)
    assert check_record(
        _record(purpose, rua=None), ["v=DMARC1; p=quarantine; rua=mailto:x@example.org"]
    ) == (True, None)


@pytest.mark.parametrize(
    ("purpose", "reason"),
    [
        ("dkim", "no TXT record found at scaisend1._domainkey.example.com"),
        ("spf", "no TXT record found at bounces.example.com"),
        ("dmarc", "no TXT record found at _dmarc.example.com"),
        ("return_path", "no MX record found at bounces.example.com"),
    ],
)
def test_check_record_nothing_published(purpose: str, reason: str) -> None:
    assert check_record(_record(purpose), []) == (False, reason)


@pytest.mark.parametrize(
    ("purpose", "published", "reason"),
    [
        ("dkim", ["v=DKIM1; p=AAAA"], "TXT at scaisend1._domainkey.example.com does not match"),
        ("spf", ["v=spf1 -all"], "TXT at bounces.example.com does not match"),
        ("return_path", ["10 elsewhere.example."], f"MX does not point to {SMTP_HOST}"),
    ],
)
def test_check_record_mismatch_reason(purpose: str, published: list[str], reason: str) -> None:
    ok, why = check_record(_record(purpose), published)
    assert not ok
    assert why is not None and why.startswith(reason)


@pytest.mark.parametrize(
    "published",
    [
        "p=quarantine; v=DMARC1; rua=mailto:dmarc@example.com",
        "v=dmarc1; p=quarantine; rua=mailto:dmarc@example.com",
    ],
)
def test_dmarc_record_receivers_ignore_is_not_valid(published: str) -> None:
    ok, _ = check_record(_record("dmarc"), [published])
    assert not ok


def test_two_spf_records_are_not_valid() -> None:
    published = [f"v=spf1 a:{SMTP_HOST} ~all", "v=spf1 include:_spf.example.net ~all"]
    ok, _ = check_record(_record("spf"), published)
    assert not ok


@pytest.fixture(scope="module")
def dkim_key() -> tuple[str, str]:
    key = generate_dkim_key()
    return key.private_pem, key.public_b64


def test_generate_dkim_key_is_2048_bit_rsa(dkim_key: tuple[str, str]) -> None:
    private_pem, _ = dkim_key
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    assert private.key_size == 2048
    assert private.public_key().public_numbers().e == 65537
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----\n")


def test_generate_dkim_key_public_matches_private(dkim_key: tuple[str, str]) -> None:
    private_pem, public_b64 = dkim_key
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public = serialization.load_der_public_key(base64.b64decode(public_b64, validate=True))
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.public_numbers() == private.public_key().public_numbers()


def test_generate_dkim_key_makes_a_new_key_each_time(dkim_key: tuple[str, str]) -> None:
    other = generate_dkim_key(bits=1024)
    assert other.public_b64 != dkim_key[1]
    loaded = serialization.load_pem_private_key(other.private_pem.encode(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey) and loaded.key_size == 1024


def test_generated_key_checks_as_the_published_dkim_record(dkim_key: tuple[str, str]) -> None:
    _, public_b64 = dkim_key
    (record, *_) = expected_records(
        domain="example.com",
        selector=DKIM_SELECTOR,
        public_key_b64=public_b64,
        rp_host="bounces.example.com",
        smtp_hostname=SMTP_HOST,
        dmarc_policy="none",
        dmarc_rua_email=None,
    )
    # DNS splits long TXT values into 255-byte strings; the resolver joins them again,
    # sometimes with whitespace left in by zone editors.
    value = record.value
    published = " ".join(value[i : i + 255] for i in range(0, len(value), 255))
    assert check_record(record, [published]) == (True, None)


def test_without_an_rua_the_reports_come_to_the_return_path_host() -> None:
    """No rua of the account's own: the record asks for reports at dmarc@ the return-path
    host, which the MX accepts (docs/reports.md)."""
    record = _record("dmarc", rua=None)
    assert record.value == "v=DMARC1; p=quarantine; rua=mailto:dmarc@bounces.example.com"


@pytest.mark.parametrize(
    ("published", "valid"),
    [
        (["v=DMARC1; p=quarantine; rua=mailto:dmarc@bounces.example.com"], True),
        (["v=DMARC1; p=quarantine"], True),  # ours is asked for, not required
        (["v=DMARC1; p=quarantine; rua=mailto:mine@example.org"], True),
        (["v=DMARC1; p=none; rua=mailto:dmarc@bounces.example.com"], False),
    ],
)
def test_our_default_rua_is_optional_for_verification(published: list[str], valid: bool) -> None:
    assert check_record(_record("dmarc", rua=None), published)[0] is valid
