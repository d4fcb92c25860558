"""The seams the SMTP listeners depend on: intake, API-key authentication and inbound mail.

Implemented elsewhere (mta/intake, mta/services, mta/inbound); tests inject fakes here.
"""

from __future__ import annotations

from typing import Protocol

from mta.core.model import SessionTrace
from mta.services.identity import Principal


class SubmissionSink(Protocol):
    """The intake pipeline, as SMTP submission sees it."""

    async def submit_smtp(
        self,
        principal: Principal,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        trace: SessionTrace,
    ) -> str:
        """Queue the message durably and return its id; `trace` is for its Received header.

        May raise ValidationError, PermissionDenied, PayloadTooLarge, StorageUnavailable.
        """
        ...


class KeyAuthenticator(Protocol):
    """The API key service."""

    async def authenticate(self, raw_key: str) -> Principal:
        """Return the key's Principal; raise AuthenticationError if unknown or revoked."""
        ...


class InboundSink(Protocol):
    """The inbound MX processor (DSNs, feedback-loop reports, unsubscribe mails)."""

    async def accepts_domain(self, domain: str) -> bool:
        """Whether mail for `domain` (lower-case, no trailing dot) is ours to receive."""
        ...

    async def receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str = ""
    ) -> None:
        """Take one received message; `mail_from` is "" for the null reverse-path,
        `sender_ip` the client's address."""
        ...


class RelaySink(Protocol):
    """The intake path for clients in `[smtp] relay_networks` (no AUTH, like mynetworks)."""

    async def submit_relay(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, trace: SessionTrace
    ) -> str: ...
