"""Parse RFC 3464 delivery status notifications into per-recipient results (pure).

Later work adds the non-standard bounce formats and ARF complaints.
"""

from __future__ import annotations

import email
import email.policy
from email.message import Message

import msgspec

from mta.errors import ValidationError

MAX_MULTIPARTS = 100  # Postfix's mime_nesting_limit; the email parser recurses per level


class DsnRecipient(msgspec.Struct, frozen=True):
    recipient: str
    action: str
    status: str
    diagnostic: str


def _field_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    return (
        [block for block in payload if isinstance(block, Message)]
        if isinstance(payload, list)
        else []
    )


def parse_dsn(data: bytes) -> list[DsnRecipient]:
    """Per-recipient blocks of a multipart/report; report-type=delivery-status, else [].

    A message with more multipart sections than any report has is refused before parsing:
    deep nesting would exhaust the email parser's recursion."""
    if data.lower().count(b"multipart/") > MAX_MULTIPARTS:
        raise ValidationError(f"MIME structure too complex (over {MAX_MULTIPARTS} multiparts)")
    try:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
    except RecursionError:
        raise ValidationError("MIME structure nested too deeply") from None
    if message.get_content_type() != "multipart/report":
        return []
    found = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _field_blocks(part)[1:]:  # the first block is per-message
            recipient = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
            found.append(
                DsnRecipient(
                    recipient=recipient.partition(";")[2].strip() or recipient.strip(),
                    action=str(block.get("Action", "")).strip().lower(),
                    status=str(block.get("Status", "")).strip(),
                    diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
                )
            )
    return found
