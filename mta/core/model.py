"""Shared value types that cross module boundaries: ids, delivery outcomes, SMTP session
traces. The queued-message records live in queue_store.entries.

Everything here is a msgspec Struct or a pure helper; no I/O.
"""

from __future__ import annotations

import secrets
import time
from typing import Literal

import msgspec

from queue_store.entries import SmtpReply

Environment = Literal["live", "test"]


def new_id(at: float | None = None) -> str:
    """Random, URL-safe and time-sortable: 11 hex digits of milliseconds (of `at`, Unix
    seconds, or now) + 16 random."""
    return f"{int((time.time() if at is None else at) * 1000):011x}{secrets.token_hex(8)}"


def now() -> int:
    """The current Unix second: the default stamp of a record made outside any part that
    holds the Clock (parts that hold it pass its time instead)."""
    return int(time.time())


def id_floor(at: float) -> str:
    """The millisecond prefix of the ids made at `at` (Unix seconds): every new_id() made at
    that millisecond or later sorts above it, every one made earlier below."""
    return f"{max(0, int(at * 1000)):011x}"


def id_time(identifier: str) -> float:
    """When a new_id() was made (Unix seconds), from its millisecond prefix; 0 if not one."""
    try:
        return int(identifier[:11], 16) / 1000
    except ValueError:
        return 0.0


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
