"""Pure reply policy: parse enhanced status codes and classify bounces as SendGrid does."""

from __future__ import annotations

import re

from queue_store.entries import SmtpReply

ENHANCED_RE = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")

# (prefix of the enhanced status, classification, SendGrid bounce type); first match wins.
BOUNCE_TABLE: list[tuple[str, str, str]] = [
    ("5.1.", "Invalid Address", "bounce"),
    ("5.2.2", "Mailbox Unavailable", "bounce"),
    ("5.2.", "Mailbox Unavailable", "bounce"),
    ("5.3.4", "Content", "bounce"),
    ("5.6.", "Content", "bounce"),
    ("5.7.", "Reputation", "blocked"),
    ("5.4.", "Technical Failure", "bounce"),
    ("5.5.", "Technical Failure", "bounce"),
    ("5.3.", "Technical Failure", "bounce"),
    ("4.", "Technical Failure", "bounce"),
]


def reply_from(code: int, text: str) -> SmtpReply:
    """An SmtpReply from a code and text that may start with an enhanced status code."""
    text = " ".join(text.split())
    match = ENHANCED_RE.match(text)
    if match:
        return SmtpReply(code, match.group(0), text[match.end() :].strip())
    default = {2: "2.0.0", 4: "4.0.0", 5: "5.0.0"}.get(code // 100, "5.0.0")
    return SmtpReply(code, default, text)


def classify_bounce(reply: SmtpReply) -> tuple[str, str]:
    """(bounce_classification, type) for a failed recipient."""
    for prefix, classification, kind in BOUNCE_TABLE:
        if reply.enhanced.startswith(prefix):
            return classification, kind
    return "Unclassified", "bounce"
