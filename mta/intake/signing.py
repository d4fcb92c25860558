"""DKIM-sign a finished message with its sender domain's key (dkimpy's format).

Signing is the last edit in intake: nothing touches the bytes afterwards.
"""

from __future__ import annotations

import dkim

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


def dkim_sign(message: bytes, *, domain: str, selector: str, private_key_pem: str) -> bytes:
    """Return the message with a DKIM-Signature header prepended (relaxed/relaxed, rsa-sha256)."""
    signature: bytes = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private_key_pem.encode(),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=SIGNED_HEADERS,
    )
    return signature + message
