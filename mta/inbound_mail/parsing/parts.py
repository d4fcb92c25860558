"""MIME helpers shared by the inbound parsers: the guarded parse of one received message,
tolerant text decoding, and the headers of an attached or quoted original message."""

from __future__ import annotations

import email
import email.errors
import email.header
import email.policy
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser

from mta.core.errors import ValidationError

MAX_MULTIPARTS = 100  # Postfix's mime_nesting_limit; the email parser recurses per level
MAX_TEXT_CHARS = 200_000  # enough for any bounce's human-readable part
MAX_HEADER_CHARS = 2_000  # per original header value kept
ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


def parse_bytes(data: bytes) -> Message:
    """The parsed message; ValidationError when its MIME structure is too complex to parse.

    A message with more multipart sections than any report has is refused before parsing:
    deep nesting would exhaust the email parser's recursion."""
    if data.lower().count(b"multipart/") > MAX_MULTIPARTS:
        raise ValidationError(f"MIME structure too complex (over {MAX_MULTIPARTS} multiparts)")
    try:
        return email.message_from_bytes(data, policy=email.policy.compat32)
    except RecursionError:
        raise ValidationError("MIME structure nested too deeply") from None


def header_text(value: object) -> str:
    """A header value as one line of text; encoded words decoded, junk replaced."""
    if value is None:
        return ""
    try:
        if isinstance(value, email.header.Header):
            text = str(value)
        else:
            text = str(email.header.make_header(email.header.decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        text = str(value)
    return " ".join(text.split())


def get_header(message: Message, name: str) -> str:
    return header_text(message.get(name))


def part_text(part: Message) -> str:
    """The decoded text of a non-multipart part (bounded), whatever its charset says."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw[:MAX_TEXT_CHARS] if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except (LookupError, UnicodeError):
        text = payload.decode("latin-1", "replace")
    return text[:MAX_TEXT_CHARS]


def own_parts(message: Message) -> Iterator[Message]:
    """Every part of `message`, depth first, without entering attached messages: a returned
    original may itself be a bounce, and its reports are not ours."""
    yield message
    payload = message.get_payload()
    if not isinstance(payload, list) or message.get_content_type() == "message/rfc822":
        return
    for part in payload:
        if isinstance(part, Message):
            yield from own_parts(part)


def is_text_leaf(part: Message) -> bool:
    """A part whose body is text to read: text/*, or a multipart whose boundary never
    appears (the parser leaves its whole body as one string)."""
    if part.is_multipart():
        return False
    return part.get_content_maintype() in ("text", "multipart")


def headers_of(message: Message) -> dict[str, str]:
    """Lower-case header names to their first value, bounded."""
    found: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        if key not in found:
            found[key] = header_text(value)[:MAX_HEADER_CHARS]
    return found


def headers_from_text(text: str) -> dict[str, str]:
    """Headers parsed from the start of `text` (a text/rfc822-headers part or a quote)."""
    return headers_of(HeaderParser(policy=email.policy.compat32).parsestr(text.lstrip()))


def original_headers(message: Message) -> dict[str, str]:
    """The headers of the original message a report attaches, or {} when none is."""
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type not in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            found = headers_of(payload[0])
        else:
            found = headers_from_text(part_text(part))
        if found:
            return found
    return {}
