"""DKIM-sign a finished message (rsa-sha256, relaxed/relaxed), the last edit in intake.

dkimpy's format, parser, canonicalisation and folding; only the RSA operation uses `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

SIGNED_HEADERS = [
    b"from",
    b"to",
    b"cc",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"x-scaisend-message-id",
]

SIGNED_SET = frozenset(SIGNED_HEADERS)
HEADER_NAME = b"DKIM-Signature"
B_PLACEHOLDER = b" b=" + b"0" * 60  # dkimpy's: forces b= onto its own line when folded
RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_NOT_IN_TAG = re.compile(r"[\x00-\x20\x7f;=]")
_PADDING = padding.PKCS1v15()
_PREHASHED = utils.Prehashed(hashes.SHA256())


def to_crlf(message: bytes) -> bytes:
    """SMTP form: every line ends in CRLF (bare LF converted), including the last one."""
    if message.count(b"\n") != message.count(b"\r\n"):
        message = _BARE_LF.sub(b"\r\n", message)
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    return message


def split_message(message: bytes) -> tuple[list[list[bytes]], bytes]:
    """dkimpy's `rfc822_parse` of a CRLF message, run on the header block only."""
    if message.startswith(b"\r\n"):
        cut = 2
    else:
        end = message.find(b"\r\n\r\n")
        cut = len(message) if end < 0 else end + 4
    headers: list[list[bytes]] = dkim.rfc822_parse(message[:cut])[0]
    return headers, message[cut:]


def relaxed_body(body: bytes) -> bytes:
    """dkimpy's relaxed body canonicalisation, byte for byte, without its per-byte regexes."""
    if b"\t" in body:
        body = body.replace(b"\t", b" ")
    while b"  " in body:
        body = body.replace(b"  ", b" ")
    if b" \r\n" in body:
        body = body.replace(b" \r\n", b"\r\n")
    result: bytes = correct_empty_body(strip_trailing_lines(body))
    return result


def body_hash(body: bytes) -> bytes:
    return base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())


def join_tags(fields: list[tuple[bytes, bytes]]) -> bytes:
    return b"; ".join(name + b"=" + value for name, value in fields)


def fold_tags(fields: list[tuple[bytes, bytes]], linesep: bytes = b"") -> bytes:
    """The tag list folded at column 72 as dkimpy does, after `DKIM-Signature:`.

    dkimpy cuts a token longer than a line (d= or i= of a domain over ~66 characters)
    in two, which no verifier accepts; such lists are folded at spaces only instead.
    """
    joined = join_tags(fields)
    folded: bytes = dkim.fold(joined + linesep, namelen=len(HEADER_NAME))
    before_b = folded.rpartition(b" b=")[0].replace(b"\r\n", b"")
    if before_b == joined.rpartition(b" b=")[0]:
        return folded
    return fold_at_spaces(joined) + linesep


def fold_at_spaces(joined: bytes) -> bytes:
    """Greedy folding that never splits a token, except b=, whose base64 may hold FWS."""
    head, _, b_value = joined.rpartition(b" b=")
    lines, limit = [b""], 72 - len(HEADER_NAME)
    for token in head.split(b" "):
        if lines[-1] and len(lines[-1]) + 1 + len(token) > limit:
            lines.append(token)
            limit = 71
        else:
            lines[-1] = lines[-1] + b" " + token if lines[-1] else token
    b_tag = b"b=" + b_value
    lines.extend(b_tag[i : i + 70] for i in range(0, len(b_tag), 70))
    return b"\r\n ".join(lines)


def without_b_value(folded: bytes) -> bytes:
    """The folded tag list with b= emptied, as dkimpy's RE_BTAG leaves it."""
    if folded.endswith(B_PLACEHOLDER):  # the usual case: "\r\n b=000..." is the last line
        return folded[: -len(B_PLACEHOLDER) + 3]
    result: bytes = dkim.RE_BTAG.sub(b"\\1", folded)
    return result


def check_tag_value(value: str) -> str:
    """Refuse what would break out of a tag (header injection, a second tag, a fold)."""
    if not value or _NOT_IN_TAG.search(value):
        raise ValueError(f"invalid DKIM domain or selector: {value!r}")
    return value


def load_rsa_key(private_key_pem: str, *, validate: bool = True) -> rsa.RSAPrivateKey:
    """Parse the PEM; `validate` runs OpenSSL's key checks (about 50 ms for RSA-2048)."""
    try:
        key = serialization.load_pem_private_key(
            private_key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=not validate
        )
    except (ValueError, TypeError) as exc:
        raise dkim.KeyFormatError(f"unparsable private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise dkim.KeyFormatError("DKIM signing key is not an RSA private key")
    return key


class DkimSigner:
    """Signs with one domain's parsed key; immutable and safe to share between threads."""

    def __init__(
        self,
        domain: str,
        selector: str,
        private_key_pem: str,
        *,
        clock: Callable[[], float] = time.time,
        validate_key: bool = True,
    ) -> None:
        self.domain = check_tag_value(domain)
        self.selector = check_tag_value(selector)
        self._key = load_rsa_key(private_key_pem, validate=validate_key)
        self._clock = clock
        domain_b = domain.encode()
        self._head: list[tuple[bytes, bytes]] = [
            (b"v", b"1"),
            (b"a", b"rsa-sha256"),
            (b"c", RELAXED.to_c_value()),
            (b"d", domain_b),
            (b"i", b"@" + domain_b),
            (b"q", b"dns/txt"),
            (b"s", selector.encode()),
        ]
        self._h_tag = (b"h", b" : ".join(SIGNED_HEADERS))

    def sign(self, message: bytes) -> bytes:
        """The message in CRLF form with a DKIM-Signature header prepended."""
        message = to_crlf(message)
        return self.signature_header(message) + message

    def signature_header(self, message: bytes) -> bytes:
        """`DKIM-Signature: ...` (folded, CRLF-terminated) for a CRLF message."""
        headers, body = split_message(message)
        fields = [
            *self._head,
            (b"t", str(int(self._clock())).encode("ascii")),
            self._h_tag,
            (b"bh", body_hash(body)),
            (b"b", B_PLACEHOLDER[3:]),
        ]
        unsigned = without_b_value(fold_tags(fields))
        digest = self._header_digest(headers, unsigned)
        signature = self._key.sign(digest, _PADDING, _PREHASHED)
        fields[-1] = (b"b", base64.b64encode(signature))
        return HEADER_NAME + b": " + fold_tags(fields, b"\r\n")

    def _header_digest(self, headers: list[list[bytes]], unsigned: bytes) -> bytes:
        listed = [header for header in headers if header[0].lower() in SIGNED_SET]
        hasher = hashlib.sha256()
        dkim.hash_headers(
            hasher,
            RELAXED,
            RELAXED.canonicalize_headers(listed),
            SIGNED_HEADERS,
            (HEADER_NAME, b" " + unsigned),
            None,
        )
        return hasher.digest()


class SignerCache:
    """Bounded LRU of parsed signers keyed by (domain, selector, SHA-256 of the PEM)."""

    def __init__(self, max_size: int = 256) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size = max_size
        self._signers: OrderedDict[tuple[str, str, bytes], DkimSigner] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._signers)

    def get(self, domain: str, selector: str, private_key_pem: str) -> DkimSigner:
        key = (domain, selector, hashlib.sha256(private_key_pem.encode()).digest())
        with self._lock:
            signer = self._signers.get(key)
            if signer is not None:
                self._signers.move_to_end(key)
                return signer
        signer = DkimSigner(domain, selector, private_key_pem)
        with self._lock:
            self._signers[key] = signer
            self._signers.move_to_end(key)
            while len(self._signers) > self.max_size:
                self._signers.popitem(last=False)
        return signer


def dkim_sign(message: bytes, *, domain: str, selector: str, private_key_pem: str) -> bytes:
    """Return the message (CRLF) with a DKIM-Signature header prepended.

    Parses the key on every call, without OpenSSL's slow key checks (dkimpy never ran any,
    and the key is our own); hot paths should hold a `SignerCache`, which validates once.
    """
    signer = DkimSigner(domain, selector, private_key_pem, validate_key=False)
    return signer.sign(message)
