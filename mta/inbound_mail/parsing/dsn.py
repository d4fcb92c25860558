"""Parse RFC 3464 delivery status notifications into per-recipient results (pure).

`dsn_recipients` reads the message/delivery-status blocks of a parsed message wherever
they sit (some MTAs send them outside multipart/report); `parse_dsn` is the bytes form."""

from __future__ import annotations

import re
from email.message import Message

import msgspec

from mta.inbound_mail.parsing.addresses import dsn_address, is_mail_typed
from mta.inbound_mail.parsing.parts import (
    MAX_MULTIPARTS,
    get_header,
    header_text,
    is_text_leaf,
    own_parts,
    parse_bytes,
    part_text,
)
from mta.inbound_mail.parsing.parts import headers_from_text as _headers_from_text

__all__ = [
    "MAX_MULTIPARTS",
    "DsnRecipient",
    "dsn_recipients",
    "parse_dsn",
    "reporting_mta",
    "text_dsn_recipients",
]

FINAL_RECIPIENT_RE = re.compile(r"^final-recipient:", re.IGNORECASE | re.MULTILINE)
DSN_TYPES = ("message/delivery-status", "message/global-delivery-status")


class DsnRecipient(msgspec.Struct, frozen=True):
    recipient: str
    action: str
    status: str
    diagnostic: str


def _field_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # base64 or otherwise encoded status parts arrive as one text: split it into blocks
    text = part_text(part).replace("\r\n", "\n")
    blocks = [chunk for chunk in text.split("\n\n") if chunk.strip()]
    return [_block(chunk) for chunk in blocks]


def _block(text: str) -> Message:
    block = Message()
    for name, value in _headers_from_text(text).items():
        block[name] = value
    return block


def _address(value: str) -> str:
    address = value.partition(";")[2].strip() or value.strip()
    return address.strip("<>").strip()


def failed_address(block: Message) -> str:
    """The address that failed: the Final-Recipient, else the X-Actual-Recipient (the
    mailbox an alias led to), else the Original-Recipient, the first that is a mail address
    (rfc822 or utf-8 type, see addresses.dsn_address); "" when none is."""
    for name in ("Final-Recipient", "X-Actual-Recipient", "Original-Recipient"):
        for value in block.get_all(name) or []:
            if address := dsn_address(header_text(value)):
                return address
    return ""


def _recipient_blocks(blocks: list[Message]) -> list[Message]:
    """The per-recipient blocks: every block after the first (the per-message one), each
    split where a further Final-Recipient starts without the blank line RFC 3464 wants
    (AOL runs the per-message and all recipient fields together)."""
    groups: list[list[tuple[str, str]]] = []
    for index, block in enumerate(blocks):
        current: list[tuple[str, str]] | None = None if index == 0 else []
        for name, value in block.items():
            is_final = name.lower() == "final-recipient"
            if is_final and current is not None and _has_mail_final(current):
                groups.append(current)
                current = []
            if is_final and current is None:
                current = []
            if current is not None:
                current.append((name, str(value)))
        if current:
            groups.append(current)
    return [_message_of(group) for group in groups]


def _has_mail_final(fields: list[tuple[str, str]]) -> bool:
    """A Final-Recipient of a mail address type among `fields`: a further one starts the
    next recipient, while one after an X.400 Final-Recipient names the same recipient."""
    return any(name.lower() == "final-recipient" and is_mail_typed(value) for name, value in fields)


def _message_of(fields: list[tuple[str, str]]) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block


def dsn_recipients(message: Message) -> list[DsnRecipient]:
    """Per-recipient blocks of every delivery-status part (see _recipient_blocks)."""
    found = []
    for part in own_parts(message):
        if part.get_content_type() not in DSN_TYPES:
            continue
        for block in _recipient_blocks(_field_blocks(part)):
            named = block.get("Final-Recipient") or block.get("Original-Recipient")
            if not named and not block.get("Action"):
                continue
            found.append(
                DsnRecipient(
                    recipient=failed_address(block),
                    action=get_header(block, "Action").lower(),
                    status=get_header(block, "Status"),
                    diagnostic=get_header(block, "Diagnostic-Code"),
                )
            )
    return found


def text_dsn_recipients(message: Message) -> list[DsnRecipient]:
    """Recipient blocks found in the text of a DSN whose MIME structure is broken (lost
    boundaries put the delivery-status fields in a text part)."""
    found = []
    for part in own_parts(message):
        if not is_text_leaf(part) and part.get_content_maintype() != "message":
            continue
        text = part_text(part).replace("\r\n", "\n")
        for chunk in re.split(r"\n[ \t]*\n", text):
            if not FINAL_RECIPIENT_RE.search(chunk):
                continue
            start = FINAL_RECIPIENT_RE.search(chunk)
            block = _block(chunk[start.start() :] if start else chunk)
            found.append(
                DsnRecipient(
                    recipient=failed_address(block),
                    action=get_header(block, "Action").lower(),
                    status=get_header(block, "Status"),
                    diagnostic=get_header(block, "Diagnostic-Code"),
                )
            )
    return found


def reporting_mta(message: Message) -> str:
    """The Reporting-MTA of the first delivery-status part, without its type, or ""."""
    for part in own_parts(message):
        if part.get_content_type() in DSN_TYPES:
            blocks = _field_blocks(part)
            if blocks:
                return _address(get_header(blocks[0], "Reporting-MTA"))
    return ""


def parse_dsn(data: bytes) -> list[DsnRecipient]:
    """Per-recipient blocks of a multipart/report; report-type=delivery-status, else [].

    Raises ValidationError for MIME too complex to parse (see parts.parse_bytes)."""
    message = parse_bytes(data)
    if message.get_content_type() != "multipart/report":
        return []
    return dsn_recipients(message)
