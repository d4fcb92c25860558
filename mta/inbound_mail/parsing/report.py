"""What the inbound parser finds in one received message: its kind (dsn, arf, autoreply,
other) and, per recipient, the address, action, status, diagnostic and verdict.

These Structs are the contract between the parsers (pure) and the inbound service (events).
"""

from __future__ import annotations

from typing import Literal

import msgspec

ReportKind = Literal["dsn", "arf", "autoreply", "other"]


class ReportRecipient(msgspec.Struct, frozen=True, kw_only=True):
    """One recipient a bounce speaks of.

    `action` is RFC 3464's (failed, delayed, delivered, relayed, expanded); `hard` is the
    verdict (a permanent failure, or an expired delivery even when its status is 4.x.x);
    `classification` is SendGrid's bounce_classification and `bounce_type` its `type`
    (bounce or blocked)."""

    address: str
    action: str
    status: str
    diagnostic: str = ""
    classification: str = "Unclassified"
    bounce_type: str = "bounce"
    hard: bool = False
    reason: str = ""  # a short cause (user unknown, mailbox full, expired, blocked, ...)


class Report(msgspec.Struct, kw_only=True):
    """The parse of one inbound message. For ARF, `feedback_type` and the complained-of
    recipient are set; `original_headers` holds the attached original's headers (lower-case
    names) when one is attached, which is how a report finds our message."""

    kind: ReportKind
    recipients: list[ReportRecipient] = msgspec.field(default_factory=list)
    feedback_type: str = ""
    reporter: str = ""  # Reporting-MTA, or the ARF User-Agent / Reported-Domain
    original_headers: dict[str, str] = msgspec.field(default_factory=dict)
