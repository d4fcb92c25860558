"""The aiosmtpd protocol every listener runs (one per connection, with a session id for logs)
and what both handlers share: aiosmtpd options, reply lines, error mapping, TLS check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, AnyStr, cast

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, TLSSetupException

from config.settings import SmtpSettings
from mta.core.errors import (
    MailLoop,
    PayloadTooLarge,
    PermissionDenied,
    ScaiSendError,
    StorageUnavailable,
    ValidationError,
)
from mta.core.metrics import Metrics
from mta.listeners.admission import AdmittedSMTP
from mta.listeners.aiosmtpd_private import client_stream
from mta.listeners.data import DataBudget, DataFault, read_data, unstuff
from queue_store.entries import SmtpReply

log = logging.getLogger(__name__)

IDENT = "ESMTP ScaiSend"
MAX_REPLY_TEXT = 400

# Which intake error becomes which SMTP reply (see the tree in mta/core/errors.py).
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

# The enhanced status code (RFC 3463) a reply gets when aiosmtpd wrote none.
ENHANCED_BY_CODE = {
    "221": "2.0.0", "235": "2.7.0", "250": "2.0.0", "251": "2.1.5", "252": "2.0.0",
    "421": "4.7.0", "451": "4.3.0", "452": "4.5.3", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0", "552": "5.3.4",
    "553": "5.1.3", "554": "5.7.0", "555": "5.5.4",
}  # fmt: skip
ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")
EXTRA_EHLO_KEYWORDS = ("PIPELINING", "ENHANCEDSTATUSCODES")
READ_LIMIT = 64 * 1024  # the stream reader's buffer: one read takes a whole 5 KB message

# A handler's `handle_DATA(server, session, envelope)` hook, returning the reply.
DataHook = Callable[["IngressSMTP", Session | None, Envelope], Awaitable[str]]

AUTH_REQUIRED = "530 5.7.0 Authentication required"
ENCRYPTION_REQUIRED = "538 5.7.11 Encryption required for requested authentication mechanism"


class IngressSMTP(AdmittedSMTP):
    """aiosmtpd's SMTP with `session_id` (a random id naming this connection in logs and
    replies), a bulk DATA reader that refuses bare CR/LF and NUL, a recipient limit, and
    an enhanced status code on every reply but the greeting and the EHLO/HELO lines."""

    max_recipients = 1000
    _session_ends = 0.0  # loop time at which the whole session must be over
    _hello_reply = ""  # "EHLO" or "HELO" while that command writes its (code-less) 250 lines
    metrics: Metrics | None = None  # set per connection by the listener (mta.listeners.servers)

    def __init__(
        self,
        handler: object,
        *,
        max_recipients: int = 1000,
        timeout: float = 300.0,
        session_timeout: float = 3600.0,
        **options: Any,
    ) -> None:
        super().__init__(handler, timeout=timeout, **options)
        self.session_id = secrets.token_hex(6)
        self.max_recipients = max_recipients
        self.command_timeout = timeout
        self.session_timeout = session_timeout
        self.data_hook: DataHook | None = getattr(handler, "handle_DATA", None)

    @property
    def client_ip(self) -> str:
        """The client's IP address: the PROXY header's source when a load balancer sent one
        (aiosmtpd reads it before the greeting), else the socket peer's; "" before connect."""
        session = self.session
        if session is None:
            return ""
        proxy = getattr(session, "proxy_data", None)
        source = getattr(proxy, "src_addr", None) if proxy is not None else None
        if source is not None:
            return str(source)
        return str(session.peer[0]).split("%")[0] if session.peer else ""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:  # see aiosmtpd_private
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

    def _reset_timeout(self, duration: float | None = None) -> None:  # see aiosmtpd_private
        """aiosmtpd's per-command timer, never running past the whole-session deadline."""
        now = self.loop.time()
        if not self._session_ends:
            self._session_ends = now + self.session_timeout
        wait = min(duration or self.command_timeout, self._session_ends - now)
        super()._reset_timeout(max(wait, 0.001))

    def _timeout_cb(self) -> None:  # see aiosmtpd_private
        """Say why before closing (aiosmtpd closes silently), as Postfix does."""
        transport = cast(asyncio.WriteTransport | None, self.transport)  # uvloop's: no subclass
        if transport is not None and not transport.is_closing():
            transport.write(f"421 4.4.2 {self.hostname} Error: timeout exceeded\r\n".encode())
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            if self._hello_reply == "EHLO" and status.startswith("250 "):
                for extension in EXTRA_EHLO_KEYWORDS:  # aiosmtpd announces neither
                    await super().push(f"250-{extension}")
            if not self._code_less(status):
                status = with_enhanced_code(status)
            if self.metrics is not None:
                self.metrics.smtp_reply(status)
        await super().push(status)

    def _code_less(self, status: str) -> bool:
        """The greeting and EHLO/HELO's 250 lines carry no enhanced code (RFC 2034)."""
        if self._hello_reply:
            return status.startswith("2")
        return status.startswith(f"220 {self.hostname} ")

    async def smtp_HELO(self, hostname: str) -> None:
        if await self._refuse_nul(hostname):
            return
        self._hello_reply = "HELO"
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._hello_reply = ""

    async def smtp_EHLO(self, hostname: str) -> None:
        if await self._refuse_nul(hostname):
            return
        self._hello_reply = "EHLO"
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._hello_reply = ""

    async def smtp_MAIL(self, arg: str | None) -> None:
        if not await self._refuse_nul(arg):
            await super().smtp_MAIL(arg)

    async def _refuse_nul(self, arg: str | None) -> bool:
        """A NUL in a command argument is refused before anything parses it."""
        if arg is None or "\x00" not in arg:
            return False
        await self.push("501 5.5.2 NUL character in command")
        return True

    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self._refuse_nul(arg):
            return
        envelope = self.envelope
        if envelope is not None and len(envelope.rcpt_tos) >= self.max_recipients:
            await self.push("452 4.5.3 Too many recipients")
            return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, reading the message with `read_data` (whole runs of lines, only
        CRLF.CRLF ends it) instead of one await per line."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        claim = self._data_budget().claim()
        try:
            received = await read_data(client_stream(self), self.data_size_limit, claim)
            if isinstance(received, DataFault):
                await self._refuse_data(received)
                return
            self.envelope.content = self.envelope.original_content = unstuff(received)
            hook = self.data_hook
            status = MISSING if hook is None else await hook(self, self.session, self.envelope)
        finally:
            claim.release()
        self.envelope = self._create_envelope()  # aiosmtpd's post-DATA state (documented hook)
        await self.push("250 OK" if status is MISSING else status)

    def _data_budget(self) -> DataBudget:
        """The listener set's, shared by every session; a protocol built without limits (in
        tests) gets its own."""
        if self.limits is not None:
            return self.limits.data_memory
        return DataBudget(self.data_size_limit or READ_LIMIT)

    async def _refuse_data(self, fault: DataFault) -> None:
        """Nothing of a refused message is kept; after a bare CR or LF the client and we may
        disagree on where the message ended, so the session ends (as Postfix does)."""
        log.info("session %s: DATA refused: %s", self.session_id, fault.name)
        self.envelope = self._create_envelope()  # aiosmtpd's post-DATA state (documented hook)
        await self.push(fault.value)
        if fault is DataFault.BARE_NEWLINE and self.transport is not None:
            self.transport.close()


def with_enhanced_code(line: str) -> str:
    """A 2xx/4xx/5xx reply line with an RFC 3463 enhanced status code (ENHANCED_BY_CODE,
    else the class's x.0.0) when it has none; other lines as they are."""
    code, separator, text = line[:3], line[3:4], line[4:]
    if code[:1] not in ("2", "4", "5") or separator not in (" ", "-") or ENHANCED.match(text):
        return line
    enhanced = ENHANCED_BY_CODE.get(code) or f"{code[0]}.0.0"
    return f"{code}{separator}{enhanced} {text}".rstrip()


def smtp_options(settings: SmtpSettings, loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """The aiosmtpd options every listener shares (raw bytes, size limit, our hostname)."""
    return {
        "hostname": settings.hostname,
        "ident": IDENT,
        "data_size_limit": settings.max_message_bytes,
        "decode_data": False,  # keep the message bytes exactly as received
        "enable_SMTPUTF8": True,
        "max_recipients": settings.max_recipients,
        "timeout": settings.command_timeout_seconds,
        "session_timeout": settings.session_timeout_seconds,
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
