"""What the spool keeps of a queued message: its envelope and per-recipient delivery
state, with the SMTP reply last seen for each recipient. The core imports these from here."""

from __future__ import annotations

import time
from typing import Literal

import msgspec

RecipientStatus = Literal["pending", "delivered", "bounced", "expired", "dropped"]


class SpoolUnavailable(Exception):
    """The spool cannot store or read a message now (the core's StorageUnavailable)."""


class SmtpReply(msgspec.Struct, frozen=True):
    """One SMTP reply: basic code, enhanced status (RFC 3463) and text."""

    code: int
    enhanced: str
    text: str

    @property
    def transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    def line(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}".rstrip()


class RecipientState(msgspec.Struct, kw_only=True):
    """Per-recipient delivery state kept in the spool beside the message."""

    email: str
    index: int
    status: RecipientStatus = "pending"
    attempts: int = 0
    next_attempt_at: float = 0.0
    last_reply: SmtpReply | None = None


class Envelope(msgspec.Struct, kw_only=True):
    """What the queue needs to deliver a message, apart from its bytes."""

    message_id: str
    queue_id: str
    account_id: str
    sender: str
    sender_domain: str
    return_path_host: str
    sandbox: bool = False
    created_at: float = msgspec.field(default_factory=time.time)
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)
    api_key_id: str | None = None
    send_at: int | None = None  # a scheduled send: not delivered before this Unix time
    batch_id: str | None = None  # its batch, which the account may pause or cancel
    asm_group_id: int | None = None  # its unsubscribe group (SendGrid's asm.group_id)

    @property
    def lifetime_start(self) -> float:
        """When the queue lifetime starts counting: acceptance, or the scheduled time."""
        return max(self.created_at, float(self.send_at or 0))


class QueueEntry(msgspec.Struct, kw_only=True):
    """One spooled message: its envelope and recipients (content is stored beside it)."""

    envelope: Envelope
    recipients: list[RecipientState]

    @property
    def pending(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.status == "pending"]
