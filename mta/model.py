"""Shared value types that cross module boundaries: replies, queue records, ids.

Everything here is a msgspec Struct or a pure helper; no I/O.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

import msgspec

RecipientStatus = Literal["pending", "delivered", "bounced", "expired", "dropped"]
Environment = Literal["live", "test"]


def new_id() -> str:
    """Random, URL-safe and time-sortable: 11 hex digits of milliseconds + 16 random."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(8)}"


def now() -> int:
    return int(time.time())


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


def id_time(identifier: str) -> float:
    """When a new_id() was made (Unix seconds), from its millisecond prefix; 0 if not one."""
    try:
        return int(identifier[:11], 16) / 1000
    except ValueError:
        return 0.0


class QueueEntry(msgspec.Struct, kw_only=True):
    """One spooled message: its envelope and recipients (content is stored beside it)."""

    envelope: Envelope
    recipients: list[RecipientState]

    @property
    def pending(self) -> list[RecipientState]:
        return [r for r in self.recipients if r.status == "pending"]


def verp_address(message_id: str, index: int, return_path_host: str) -> str:
    """The per-message, per-recipient return path: bounces+<message>.<index>@<host>."""
    return f"bounces+{message_id}.{index}@{return_path_host}"


def parse_verp(address: str) -> tuple[str, int] | None:
    """Inverse of verp_address: (message_id, recipient index), or None if not ours."""
    local, _, _domain = address.rpartition("@")
    if not local.lower().startswith("bounces+"):
        return None
    message_id, _, index = local[len("bounces+") :].rpartition(".")
    if not message_id or not index.isdigit():
        return None
    return message_id, int(index)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one delivery attempt did for one recipient."""

    reply: SmtpReply
    mx: str = ""
    ip: str = ""  # the address we sent from
    tls: bool = False
    tls_version: str = ""
    tls_cipher: str = ""


class SessionTrace(msgspec.Struct, frozen=True, kw_only=True):
    """How a message reached us over SMTP, as our Received header records it."""

    helo: str
    client_ip: str
    hostname: str  # ours: the Received header's `by`
    esmtp: bool = True
    authenticated: bool = False
    tls_version: str = ""
    tls_cipher: str = ""
    tls_bits: int = 0
