"""DKIM signing: byte-identical to dkimpy's `dkim.sign`, accepted by dkimpy's verifier and by
an independent RFC 6376 relaxed/relaxed verifier written here, rejected once tampered with."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import time
from collections.abc import Callable

import dkim
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from dkim.canonicalization import Relaxed

from mta.submission.mime import build_message
from mta.submission.send_request.request import Address
from mta.submission.signing import (
    SIGNED_HEADERS,
    DkimSigner,
    SignerCache,
    dkim_sign,
    relaxed_body,
    split_message,
    to_crlf,
    without_b_value,
)

DOMAIN, SELECTOR = "example.com", "scaisend1"
NOW = 1_700_000_000.25

PLAIN = (
    b"From: Sender <from@example.com>\r\n"
    b"To: Alice <a@example.net>\r\n"
    b"Subject: Hello\r\n"
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Plain body\r\n"
)
FOLDED = (
    b"Received: from relay by mx; Tue, 14 Nov 2023 22:13:20 +0000\r\n"
    b"From:   Sender \t <from@example.com>   \r\n"
    b"To: a@example.net,\r\n"
    b"\tb@example.net,\r\n"
    b"   c@example.net\r\n"
    b"SUBJECT:\tMixed \t  whitespace\r\n"
    b" and a folded   tail \r\n"
    b"X-Other: not signed\r\n"
    b"Subject: second subject, the bottom one is signed\r\n"
    b"\r\n"
    b"  leading space and trailing \t \r\n"
    b"tabs\tin\t\tthe   middle\r\n"
    b"\r\n"
    b"\r\n"
)
EIGHT_BIT = (
    "From: J\u00f6rg <from@example.com>\r\n"
    "Subject: Gr\u00fc\u00dfe\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c\u8a9e\r\n"
).encode() + b"\xff\xfe raw bytes\r\n"
MINIMAL = b"From: from@example.com\r\nSubject: only two listed headers\r\n\r\nbody\r\n"
NO_FINAL_CRLF = b"From: from@example.com\r\nSubject: x\r\n\r\nline one\r\nline two  "


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def signer(pem: str) -> DkimSigner:
    return DkimSigner(DOMAIN, SELECTOR, pem, clock=lambda: NOW)


def dns_for(key: rsa.RSAPrivateKey, domain: str = DOMAIN) -> Callable[..., bytes]:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        assert name.rstrip(b".") == f"{SELECTOR}._domainkey.{domain}".encode()
        return record

    return dnsfunc


def dkimpy_verifies(message: bytes, key: rsa.RSAPrivateKey) -> bool:
    return bool(dkim.verify(message, dnsfunc=dns_for(key)))


# --- an independent relaxed/relaxed verifier (RFC 6376 3.4.2, 3.4.4, 3.5, 3.7) ----------------


def header_fields(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    head, _, body = message.partition(b"\r\n\r\n")
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            name, value = fields.pop()
            fields.append((name, value + b"\r\n" + line))
        else:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields, body


def rfc_header(name: bytes, value: bytes) -> bytes:
    value = re.sub(rb"[ \t]+", b" ", value.replace(b"\r\n", b"")).strip(b" \t")
    return name.strip(b" \t").lower() + b":" + value


def rfc_body(body: bytes) -> bytes:
    lines = body.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    lines = [re.sub(rb"[ \t]+", b" ", line).rstrip(b" ") for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def independent_verify(message: bytes, key: rsa.RSAPrivateKey) -> bool:
    fields, body = header_fields(message)
    sig_name, sig_value = fields[0]
    assert sig_name == b"DKIM-Signature"
    tags = dict(tag.split(b"=", 1) for tag in re.sub(rb"\s", b"", sig_value).split(b";") if tag)
    assert tags[b"a"] == b"rsa-sha256" and tags[b"c"] == b"relaxed/relaxed"
    if base64.b64decode(tags[b"bh"]) != hashlib.sha256(rfc_body(body)).digest():
        return False
    rest, signed = fields[1:], []
    for name in tags[b"h"].lower().split(b":"):
        for i in range(len(rest) - 1, -1, -1):  # bottom-up, each instance used once
            if rest[i][0].strip().lower() == name:
                signed.append(rest.pop(i))
                break
    empty_b = re.sub(rb"(^|;)(\s*b\s*=)[^;]*", rb"\1\2", sig_value)
    data = b"".join(rfc_header(n, v) + b"\r\n" for n, v in signed)
    data += rfc_header(sig_name, empty_b)
    signature = base64.b64decode(tags[b"b"])
    try:
        key.public_key().verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


def both_verify(message: bytes, key: rsa.RSAPrivateKey) -> bool:
    by_dkimpy, by_rfc = dkimpy_verifies(message, key), independent_verify(message, key)
    assert by_dkimpy == by_rfc, "the two verifiers disagree"
    return by_dkimpy


def dkimpy_sign(message: bytes, pem: str) -> bytes:
    signature: bytes = dkim.sign(
        message,
        SELECTOR.encode(),
        DOMAIN.encode(),
        pem.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=SIGNED_HEADERS,
    )
    return signature


def built(**overrides: object) -> bytes:
    args: dict[str, object] = dict(
        sender=Address("from@example.com", "J\u00f6rg Sender"),
        to=[Address("a@example.net", "Alice")],
        cc=[Address("c@example.net")],
        reply_to=Address("reply@example.com"),
        subject="Hello \u2014 w\u00f6rld",
        text="Plain body\nsecond line  with  spaces \n",
        html=None,
        headers={},
        message_id="msg123",
        queue_id="q456",
        domain=DOMAIN,
    )
    args.update(overrides)
    return build_message(**args)  # type: ignore[arg-type]


def multipart() -> bytes:
    return built(html="<p>HTML   body</p>\n" * 40)


CASES = {
    "plain": PLAIN,
    "built plain text": built(),
    "built multipart": multipart(),
    "folding and odd whitespace": FOLDED,
    "8-bit body": EIGHT_BIT,
    "missing listed headers": MINIMAL,
    "no final CRLF": NO_FINAL_CRLF,
    "empty body": b"From: from@example.com\r\nSubject: x\r\n\r\n",
}


@pytest.mark.parametrize("name", list(CASES))
def test_signature_verifies_with_both_verifiers(
    name: str, signer: DkimSigner, key: rsa.RSAPrivateKey
) -> None:
    signed = signer.sign(CASES[name])
    assert signed.startswith(b"DKIM-Signature: ")
    assert both_verify(signed, key)


@pytest.mark.parametrize("name", [n for n in CASES if n != "no final CRLF"])
def test_header_is_byte_identical_to_dkimpy(
    name: str, signer: DkimSigner, pem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: NOW)  # dkimpy stamps t= from time.time()
    assert signer.signature_header(CASES[name]) == dkimpy_sign(CASES[name], pem)


def test_header_layout(signer: DkimSigner) -> None:
    header = signer.signature_header(PLAIN)
    tags = [tag.split(b"=", 1)[0].strip() for tag in header[16:].split(b";")]
    assert tags == [b"v", b"a", b"c", b"d", b"i", b"q", b"s", b"t", b"h", b"bh", b"b"]
    lines = header.split(b"\r\n")
    assert lines[-1] == b"" and header.endswith(b"\r\n")
    b_line = next(i for i, line in enumerate(lines) if line.startswith(b" b="))
    assert all(line.startswith(b" ") and b";" not in line for line in lines[b_line:-1])
    assert all(len(line) <= 78 for line in lines)  # well under the 998-octet limit
    assert b" t=1700000000;" in header and b" d=example.com;" in header


def test_absent_listed_headers_are_still_named_in_h(signer: DkimSigner) -> None:
    """Like dkimpy: naming an absent header in h= stops anyone adding it later."""
    header = signer.signature_header(MINIMAL)
    h_tag = re.search(rb"h=([^;]*);", header)
    assert h_tag is not None
    assert re.sub(rb"\s", b"", h_tag.group(1)).split(b":") == SIGNED_HEADERS


def test_adding_an_absent_signed_header_breaks_the_signature(
    signer: DkimSigner, key: rsa.RSAPrivateKey
) -> None:
    signed = signer.sign(MINIMAL)
    head, _, body = signed.partition(b"\r\n\r\n")
    assert not both_verify(head + b"\r\nCc: intruder@example.org\r\n\r\n" + body, key)


def test_lf_message_is_signed_in_crlf_form(signer: DkimSigner, key: rsa.RSAPrivateKey) -> None:
    lf = PLAIN.replace(b"\r\n", b"\n")
    signed = signer.sign(lf)
    assert re.search(rb"(?<!\r)\n", signed) is None
    assert signed == signer.sign(PLAIN)
    assert both_verify(signed, key)


def test_missing_final_crlf_is_added_before_signing(
    signer: DkimSigner, key: rsa.RSAPrivateKey
) -> None:
    """SMTP appends the CRLF anyway; signing the bytes that are sent keeps them verifiable."""
    signed = signer.sign(NO_FINAL_CRLF)
    assert signed.endswith(b"line two  \r\n")
    assert both_verify(signed, key)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"Plain body", b"Plain bodY"),
        (b"Plain body\r\n", b"Plain body\r\nextra line\r\n"),
        (b"From: Sender <from@example.com>", b"From: Sender <evil@example.com>"),
        (b"From: Sender <from@example.com>", b"From: Sendr <from@example.com>"),
        (b"Subject: Hello", b"Subject: Hello!"),
    ],
)
def test_tampering_fails_verification(
    signer: DkimSigner, key: rsa.RSAPrivateKey, old: bytes, new: bytes
) -> None:
    signed = signer.sign(PLAIN)
    assert both_verify(signed, key)
    assert not both_verify(signed.replace(old, new, 1), key)


def test_second_from_header_fails_verification(signer: DkimSigner, key: rsa.RSAPrivateKey) -> None:
    signed = signer.sign(PLAIN)
    head, _, body = signed.partition(b"\r\n\r\n")
    assert not dkimpy_verifies(head + b"\r\nFrom: evil@example.org\r\n\r\n" + body, key)


def test_relaxed_changes_still_verify(signer: DkimSigner, key: rsa.RSAPrivateKey) -> None:
    """Refolding headers and trailing/inner whitespace changes are what relaxed tolerates."""
    signed = signer.sign(PLAIN)
    relaxed = signed.replace(b"To: Alice <a@example.net>", b"to:  Alice\r\n\t<a@example.net> ")
    relaxed = relaxed.replace(b"Plain body\r\n", b"Plain  body \r\n\r\n\r\n")
    assert both_verify(relaxed, key)


def test_wrong_key_fails(signer: DkimSigner) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not both_verify(signer.sign(PLAIN), other)


def test_dkim_sign_convenience(pem: str, key: rsa.RSAPrivateKey) -> None:
    message = multipart()
    signed = dkim_sign(message, domain=DOMAIN, selector=SELECTOR, private_key_pem=pem)
    assert signed.endswith(message)
    assert both_verify(signed, key)


def test_pkcs1_pem(key: rsa.RSAPrivateKey) -> None:
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    signed = DkimSigner(DOMAIN, SELECTOR, pkcs1).sign(multipart())
    assert both_verify(signed, key)


def test_long_domain_folds_and_verifies(pem: str, key: rsa.RSAPrivateKey) -> None:
    domain = "mail-" + "x" * 58 + ".subdomain-" + "y" * 50 + ".example.com"
    signed = DkimSigner(domain, SELECTOR, pem).sign(PLAIN)
    assert all(len(line) <= 998 for line in signed.split(b"\r\n"))
    assert f" d={domain};".encode() in signed  # not cut in two as dkimpy's fold would
    assert dkim.verify(signed, dnsfunc=dns_for(key, domain))
    assert independent_verify(signed, key)
    assert not independent_verify(signed.replace(b"Plain body", b"Plain bodY"), key)


@pytest.mark.parametrize("bad", ["", "exa mple.com", "example.com;x=1", "a\r\nBcc: x", "a=b"])
def test_domain_and_selector_cannot_inject(pem: str, bad: str) -> None:
    with pytest.raises(ValueError):
        DkimSigner(bad, SELECTOR, pem)
    with pytest.raises(ValueError):
        DkimSigner(DOMAIN, bad, pem)


def test_bad_keys_are_rejected() -> None:
    with pytest.raises(dkim.KeyFormatError):
        DkimSigner(DOMAIN, SELECTOR, "not a key")
    ed = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(dkim.KeyFormatError):
        DkimSigner(DOMAIN, SELECTOR, ed.decode())
    with pytest.raises(dkim.KeyFormatError):
        dkim_sign(PLAIN, domain=DOMAIN, selector=SELECTOR, private_key_pem=ed.decode())


# --- the fast paths give exactly dkimpy's results --------------------------------------------


def random_body(rng: random.Random) -> bytes:
    pieces = [b" ", b"\t", b"\r\n", b"\r", b"\n", b"a", b"b\xc3\xa9", b"  ", b"\r\n\r\n", b"x "]
    return b"".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))


def test_relaxed_body_matches_dkimpy() -> None:
    rng = random.Random(6376)
    samples = [b"", b"\r\n", b"\r\n\r\n", b" \r\n", b"a \t\r\n", b"a  ", b"\t", CASES["plain"]]
    samples += [random_body(rng) for _ in range(5000)]
    for body in samples:
        assert relaxed_body(body) == Relaxed.canonicalize_body(body), body


@pytest.mark.parametrize("name", list(CASES))
def test_split_matches_rfc822_parse(name: str) -> None:
    message = to_crlf(CASES[name])
    assert split_message(message) == dkim.rfc822_parse(message)


def test_split_without_headers_or_body() -> None:
    assert split_message(b"\r\nbody\r\n\r\n") == dkim.rfc822_parse(b"\r\nbody\r\n\r\n")
    assert split_message(b"From: a\r\nTo: b\r\n") == dkim.rfc822_parse(b"From: a\r\nTo: b\r\n")


def test_without_b_value_matches_re_btag() -> None:
    for folded in (b"v=1; bh=x;\r\n b=" + b"0" * 60, b"v=1; b=" + b"0" * 60, b"b=abc;\r\n d=x"):
        assert without_b_value(folded) == dkim.RE_BTAG.sub(b"\\1", folded)


def test_to_crlf() -> None:
    assert to_crlf(b"a\nb\r\nc") == b"a\r\nb\r\nc\r\n"
    assert to_crlf(b"a\r\n") == b"a\r\n"
    assert to_crlf(b"") == b""


# --- the cache ---------------------------------------------------------------------------------


def test_cache_reuses_signers_and_is_bounded(pem: str) -> None:
    other_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=1024)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    cache = SignerCache(max_size=2)
    first = cache.get("a.example", SELECTOR, pem)
    assert cache.get("a.example", SELECTOR, pem) is first
    assert cache.get("a.example", SELECTOR, other_pem) is not first  # a rotated key
    assert len(cache) == 2
    cache.get("a.example", SELECTOR, pem)  # now the most recently used
    cache.get("b.example", SELECTOR, pem)  # evicts the rotated key's signer
    assert len(cache) == 2
    assert cache.get("a.example", SELECTOR, pem) is first
    assert cache.get("a.example", "other", pem) is not first


def test_cache_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SignerCache(max_size=0)
