"""Signed VERP return paths: bounces+<message>.<index>.<mac>@<host>, where the MAC (HMAC-SHA256
keyed per install, the first key signing and every key verifying) binds message and index.

Pure: the keys are handed in (mta/server/return_path_keys.py loads them); no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Literal

import msgspec

PREFIX = "bounces+"
MAC_BYTES = 10  # 80 bits: 16 base32 characters, no padding
MAC_CHARS = 16
MIN_KEY_CHARS = 32
DOMAIN_TAG = b"scaisend-verp-v1\0"
SIGNED_PARTS = 3  # message, index, MAC
MAX_INDEX_DIGITS = 5

Signature = Literal["valid", "missing", "invalid"]


class ReturnPathKeys(msgspec.Struct, frozen=True):
    """The install's return-path keys: the first signs, each verifies (rotation overlap)."""

    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("return_path_keys: at least one key is needed")
        for key in self.keys:
            if len(key) < MIN_KEY_CHARS:
                raise ValueError(
                    f"return_path_keys: each key needs at least {MIN_KEY_CHARS} characters"
                )

    @classmethod
    def generate(cls) -> ReturnPathKeys:
        """A fresh random key: what a part built without the install's keys signs with."""
        return cls((new_key(),))


class VerpReference(msgspec.Struct, frozen=True, kw_only=True):
    """A parsed return path: the message and index it names, its host (lower-case) and
    whether its MAC verified under one of the keys."""

    message_id: str
    index: int
    host: str
    signature: Signature


def new_key() -> str:
    """A random key for the keys file or `[inbound] return_path_keys`."""
    return secrets.token_hex(32)


def mac(message_id: str, index: int, key: str) -> str:
    """The 16 lower-case base32 characters binding (message id, index) under `key`."""
    data = DOMAIN_TAG + f"{message_id.lower()}.{index}".encode()
    digest = hmac.new(key.encode(), data, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.b32encode(digest).decode().lower()


def verp_address(message_id: str, index: int, host: str, keys: ReturnPathKeys) -> str:
    """The signed per-message, per-recipient return path (local part at most 64 octets for
    our 27-character ids and up to 99,999 recipients)."""
    return f"{PREFIX}{message_id}.{index}.{mac(message_id, index, keys.keys[0])}@{host}"


def parse_verp(address: str, keys: ReturnPathKeys) -> VerpReference | None:
    """The reference `address` makes, or None when it is not a return path of ours at all.

    The old unsigned form bounces+<message>.<index> has signature "missing"; a MAC that no
    key gives (a changed index or message, a guessed MAC) is "invalid". Case-insensitive,
    since receivers may fold the local part."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if not local.lower().startswith(PREFIX):
        return None
    parts = local[len(PREFIX) :].lower().split(".")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1].isascii():
        return None
    if not parts[1].isdigit() or len(parts[1]) > MAX_INDEX_DIGITS:
        return None
    message_id, index = parts[0], int(parts[1])
    signature: Signature = "missing"
    if len(parts) == SIGNED_PARTS:
        given = parts[2]
        ok = any(hmac.compare_digest(given, mac(message_id, index, key)) for key in keys.keys)
        signature = "valid" if ok else "invalid"
    return VerpReference(
        message_id=message_id,
        index=index,
        host=host.rstrip(".").lower(),
        signature=signature,
    )
