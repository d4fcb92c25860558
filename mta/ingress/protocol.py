"""The aiosmtpd protocol every listener runs (one per connection, with a session id for logs)
and what both handlers share: aiosmtpd options, reply lines, error mapping, TLS check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import Any

from aiosmtpd.smtp import SMTP, TLSSetupException

from config.settings import SmtpSettings
from mta.errors import (
    MailLoop,
    PayloadTooLarge,
    PermissionDenied,
    ScaiSendError,
    StorageUnavailable,
    ValidationError,
)
from mta.model import SmtpReply

IDENT = "ESMTP ScaiSend"
MAX_REPLY_TEXT = 400

# Which intake error becomes which SMTP reply (see the tree in mta/errors.py).
ERROR_REPLIES: tuple[tuple[type[ScaiSendError], int, str], ...] = (
    (ValidationError, 550, "5.6.0"),
    (PermissionDenied, 550, "5.7.1"),
    (PayloadTooLarge, 552, "5.3.4"),
    (MailLoop, 554, "5.4.6"),
    (StorageUnavailable, 451, "4.3.0"),
)

# A dot-atom local part and a host name in angle brackets: what get_angle_addr accepts as is.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
SIMPLE_PATH = re.compile(rf"<({_ATEXT}(?:\.{_ATEXT})*@{_LABEL}(?:\.{_LABEL})*)>")

AUTH_REQUIRED = "530 5.7.0 Authentication required"
ENCRYPTION_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"


class IngressSMTP(SMTP):
    """aiosmtpd's SMTP with `session_id`: a random id naming this connection in logs/replies."""

    def __init__(self, handler: object, **options: Any) -> None:
        super().__init__(handler, **options)
        self.session_id = secrets.token_hex(6)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's parse of a MAIL/RCPT path, with a fast path for a plain
        `<local@domain>` (the email package's parser, and the typing.Protocol class
        aiosmtpd's version defines on every call, cost about 0.14 ms per command)."""
        simple = SIMPLE_PATH.match(arg.lstrip()) if arg else None
        rest = arg.lstrip()[simple.end() :].lstrip() if simple else ""
        if simple is None or rest.startswith("("):  # comments: the full parser's business
            return super()._getaddr(arg)
        address = simple.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest


def smtp_options(settings: SmtpSettings, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """The aiosmtpd options every listener shares (raw bytes, size limit, our hostname)."""
    return {
        "hostname": settings.hostname,
        "ident": IDENT,
        "data_size_limit": settings.max_message_bytes,
        "decode_data": False,  # keep the message bytes exactly as received
        "enable_SMTPUTF8": False,
        "loop": loop,
    }


def is_encrypted(server: SMTP) -> bool:
    """True once the connection runs over TLS (after STARTTLS, or from the start on 465)."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


def reverse_path(mail_from: str | None) -> str:
    """The envelope sender; aiosmtpd hands over the null reverse-path as "<>", we use ""."""
    return "" if mail_from in (None, "<>") else str(mail_from)


def reply(code: int, enhanced: str, text: str) -> str:
    """One reply line; the text is made single-line printable ASCII and bounded."""
    return SmtpReply(code, enhanced, printable(text)).line()


def printable(text: str) -> str:
    cleaned = "".join(ch if " " <= ch <= "~" else " " if ch.isspace() else "?" for ch in text)
    return " ".join(cleaned.split())[:MAX_REPLY_TEXT]


def error_reply(error: BaseException) -> str | None:
    """The reply for a known intake error, or None for anything we must not explain."""
    for kind, code, enhanced in ERROR_REPLIES:
        if isinstance(error, kind):
            return reply(code, enhanced, error.message)
    return None


def internal_error(session_id: str) -> str:
    """The reply for an unexpected failure: names the session, never the exception."""
    return reply(451, "4.3.0", f"Internal error, try again later (session {session_id})")


def unexpected_exception_reply(log: logging.Logger, error: Exception) -> str:
    """aiosmtpd's `handle_exception` hook: log it under an incident id, answer 451."""
    incident = secrets.token_hex(6)
    if isinstance(error, TLSSetupException):
        log.info("session %s: TLS handshake failed: %r", incident, error.__cause__)
    else:
        log.error("session %s: unexpected SMTP error", incident, exc_info=error)
    return internal_error(incident)
