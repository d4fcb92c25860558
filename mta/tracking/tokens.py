"""Signed tokens for the tracking links (open pixel, click redirect, unsubscribe) and the
mailto unsubscribe address: compact, URL-safe, HMAC-SHA256 signed; parsing returns None on
any defect (bad encoding, bad signature, wrong purpose, malformed claim)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Literal

import msgspec

TokenKind = Literal["open", "click", "unsubscribe"]
UrlType = Literal["html", "text"]
KINDS: tuple[TokenKind, ...] = ("open", "click", "unsubscribe")
URL_MAC_BYTES = 16  # 128 bits in links
MAIL_MAC_BYTES = 8  # 64 bits in a mailto local part (one guess per mail sent), within 64 octets
MAX_TOKEN_CHARS = 8192
MAILTO_PREFIX = "unsub+"
HEX_ID = re.compile(r"[0-9a-f]{1,64}")
WIRE_DEFAULTS: tuple[int | str, ...] = (-1, -1, "")  # group, url_index, url
_URL_PURPOSE = b"scaisend-tracking-url\x00"
_MAIL_PURPOSE = b"scaisend-tracking-mailto\x00"


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    """What a token says: which message and recipient, and for a click which link."""

    kind: TokenKind
    message_id: str
    recipient_index: int
    asm_group_id: int | None = None
    url: str = ""
    url_index: int = -1
    url_type: UrlType = "html"


class _Wire(msgspec.Struct, array_like=True, frozen=True):
    """The signed payload: ids packed as bytes when they are lower-case hex (ours are)."""

    flags: int  # bits 0-1 kind, bit 2 odd-length hex id, bit 3 text id, bit 4 text url
    mid: bytes
    index: int
    group: int = -1
    url_index: int = -1
    url: str = ""


class TrackingKey:
    """The server's tracking secret (derived from its main secret, so links survive restarts)."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self._key = hmac.new(raw, b"scaisend tracking v1", hashlib.sha256).digest()

    def mac(self, purpose: bytes, payload: bytes, size: int) -> bytes:
        return hmac.new(self._key, purpose + payload, hashlib.sha256).digest()[:size]


def _pack(claim: Claim) -> bytes:
    mid, flags = claim.message_id, KINDS.index(claim.kind)
    if HEX_ID.fullmatch(mid):
        odd = len(mid) % 2
        packed = bytes.fromhex("0" * odd + mid)
        flags |= 4 if odd else 0
    else:
        packed, flags = mid.encode("utf-8"), flags | 8
    if claim.url_type == "text":
        flags |= 16
    group = -1 if claim.asm_group_id is None else claim.asm_group_id
    fields: list[int | bytes | str] = [flags, packed, claim.recipient_index]
    fields += [group, claim.url_index, claim.url]
    while len(fields) > 3 and fields[-1] == WIRE_DEFAULTS[len(fields) - 4]:
        fields.pop()  # trailing defaults left out: the decoder fills them in
    return msgspec.msgpack.encode(fields)


def _unpack(payload: bytes) -> Claim | None:
    try:
        wire = msgspec.msgpack.decode(payload, type=_Wire)
        if wire.flags & 8:
            mid = wire.mid.decode("utf-8")
        else:
            mid = wire.mid.hex()[1:] if wire.flags & 4 else wire.mid.hex()
        kind = KINDS[wire.flags & 3]
    except (msgspec.DecodeError, UnicodeDecodeError, IndexError):
        return None
    if not mid or wire.index < 0 or wire.flags > 31:
        return None
    return Claim(
        kind=kind,
        message_id=mid,
        recipient_index=wire.index,
        asm_group_id=None if wire.group < 0 else wire.group,
        url=wire.url,
        url_index=wire.url_index,
        url_type="text" if wire.flags & 16 else "html",
    )


def make_token(key: TrackingKey, claim: Claim) -> str:
    """The claim signed, as base64url without padding (safe in a path or query)."""
    payload = _pack(claim)
    blob = key.mac(_URL_PURPOSE, payload, URL_MAC_BYTES) + payload
    return base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii")


def parse_token(key: TrackingKey, token: str, kind: TokenKind | None = None) -> Claim | None:
    """The claim of a token we made (of `kind` when given); None on any defect."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        return None
    try:
        blob = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != token:
        return None  # one token, one spelling
    mac, payload = blob[:URL_MAC_BYTES], blob[URL_MAC_BYTES:]
    if not hmac.compare_digest(mac, key.mac(_URL_PURPOSE, payload, URL_MAC_BYTES)):
        return None
    claim = _unpack(payload)
    if claim is None or (kind is not None and claim.kind != kind):
        return None
    return claim


def unsubscribe_address(key: TrackingKey, claim: Claim, host: str) -> str:
    """unsub+<token>@host; the token is lower-case base32, as some MTAs fold local parts."""
    payload = _pack(msgspec.structs.replace(claim, kind="unsubscribe", url="", url_index=-1))
    blob = key.mac(_MAIL_PURPOSE, payload, MAIL_MAC_BYTES) + payload
    token = base64.b32encode(blob).rstrip(b"=").decode("ascii").lower()
    return f"{MAILTO_PREFIX}{token}@{host}"


def parse_unsubscribe_address(key: TrackingKey, address: str) -> Claim | None:
    """The claim of an unsub+<token>@host address we made; None otherwise."""
    local = address.rpartition("@")[0] if "@" in address else address
    if not local.lower().startswith(MAILTO_PREFIX) or len(local) > 200:
        return None
    token = local[len(MAILTO_PREFIX) :].upper()
    if not token.isascii() or not token.isalnum():
        return None
    try:
        blob = base64.b32decode(token + "=" * (-len(token) % 8))
    except (binascii.Error, ValueError):
        return None
    mac, payload = blob[:MAIL_MAC_BYTES], blob[MAIL_MAC_BYTES:]
    if not hmac.compare_digest(mac, key.mac(_MAIL_PURPOSE, payload, MAIL_MAC_BYTES)):
        return None
    claim = _unpack(payload)
    return claim if claim is not None and claim.kind == "unsubscribe" else None
