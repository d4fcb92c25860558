"""Inbound authentication: DKIM verified against a key served by a real DNS server on
loopback, and the nearest trusted hop's Authentication-Results."""

from __future__ import annotations

import asyncio
import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config.settings import DnsSettings
from mta.core.dns import DnsResolver
from mta.inbound_mail.authcheck import (
    check_authentication,
    parse_authentication_results,
    signature_tags,
)
from tests.support.dns_server import DnsServer, txt_value

DOMAIN = "fbl.example.org"
SELECTOR = "s1"
MESSAGE = (
    b"Authentication-Results: mx.ours.example; dkim=pass header.d=fbl.example.org;\r\n"
    b" spf=fail smtp.mailfrom=fbl.example.org\r\n"
    b"Authentication-Results: mx.far.example; spf=pass smtp.mailfrom=x.example\r\n"
    b"From: feedback@fbl.example.org\r\n"
    b"To: fbl@bounces.example.com\r\n"
    b"Subject: complaint\r\n"
    b"\r\n"
    b"body\r\n"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _signed(key: rsa.RSAPrivateKey, message: bytes = MESSAGE) -> bytes:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signature: bytes = dkim.sign(
        message, SELECTOR.encode(), DOMAIN.encode(), pem, include_headers=[b"from", b"subject"]
    )
    return signature + message


def _record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return txt_value("v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())


def _resolver(server: DnsServer) -> DnsResolver:
    host, port = server.address
    return DnsResolver(DnsSettings(nameservers=[f"{host}:{port}"], timeout_seconds=2.0))


def test_signed_message_passes(dns_server: DnsServer, key: rsa.RSAPrivateKey) -> None:
    dns_server.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", _record(key))
    check = asyncio.run(check_authentication(_signed(key), _resolver(dns_server)))
    assert (check.dkim, check.dkim_domain) == ("pass", DOMAIN)
    assert check.results == {"dkim": "pass", "spf": "fail"}
    assert check.authserv_id == "mx.ours.example"


def test_altered_message_fails(dns_server: DnsServer, key: rsa.RSAPrivateKey) -> None:
    dns_server.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", _record(key))
    altered = _signed(key).replace(b"Subject: complaint", b"Subject: forged")
    check = asyncio.run(check_authentication(altered, _resolver(dns_server)))
    assert (check.dkim, check.dkim_domain) == ("fail", DOMAIN)


def test_other_key_fails(dns_server: DnsServer, key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    dns_server.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", _record(other))
    check = asyncio.run(check_authentication(_signed(key), _resolver(dns_server)))
    assert check.dkim == "fail"


def test_missing_key_fails(dns_server: DnsServer, key: rsa.RSAPrivateKey) -> None:
    check = asyncio.run(check_authentication(_signed(key), _resolver(dns_server)))
    assert check.dkim == "fail"


def test_dns_failure_is_temperror(dns_server: DnsServer, key: rsa.RSAPrivateKey) -> None:
    dns_server.set_failure(f"{SELECTOR}._domainkey.{DOMAIN}", "SERVFAIL")
    check = asyncio.run(check_authentication(_signed(key), _resolver(dns_server)))
    assert (check.dkim, check.dkim_domain) == ("temperror", DOMAIN)


def test_unsigned_message_is_none(dns_server: DnsServer) -> None:
    check = asyncio.run(check_authentication(MESSAGE, _resolver(dns_server)))
    assert (check.dkim, check.dkim_domain) == ("none", "")


@pytest.mark.parametrize(
    ("values", "trusted", "expected"),
    [
        (["mx.a; spf=pass smtp.mailfrom=x.example"], None, ("mx.a", {"spf": "pass"})),
        (
            ["mx.far; dkim=pass header.d=x", "mx.near; dkim=fail header.d=x"],
            frozenset({"mx.near"}),
            ("mx.near", {"dkim": "fail"}),
        ),
        (["mx.a; spf=pass smtp.mailfrom=x.example"], frozenset({"mx.b"}), ("", {})),
        (["mx.a; none"], None, ("mx.a", {})),
        (["\x00 junk ;;; ="], None, ("", {})),
        ([], None, ("", {})),
    ],
)
def test_authentication_results(
    values: list[str], trusted: frozenset[str] | None, expected: tuple[str, dict[str, str]]
) -> None:
    assert parse_authentication_results(values, trusted) == expected


def test_signature_tags() -> None:
    tags = signature_tags("v=1; a=rsa-sha256; d=Example.ORG; s=sel;\r\n b=ab\r\n cd")
    assert (tags["d"], tags["s"], tags["b"]) == ("Example.ORG", "sel", "abcd")
