"""Admitting each SMTP connection before aiosmtpd's greeting (limits, PROXY header only from a
trusted proxy, TLS after it on implicit TLS) and counting it out however the connection ends."""

from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from typing import Any

from aiosmtpd.smtp import SMTP, Session

from config.settings import ListenerName, SmtpSettings
from mta.listeners.aiosmtpd_private import adopt_tls, take_buffered
from mta.listeners.limits import TOO_MANY_MESSAGES, UNTRUSTED_PROXY, ConnectionLimits, in_networks

log = logging.getLogger(__name__)


class AdmittedSMTP(SMTP):
    """aiosmtpd's SMTP that enters its session only once the client is admitted.

    The listener set's `ProtocolFactory` sets `limits` (shared by all its connections) and,
    on an implicit-TLS listener expecting a PROXY header, `tls_after_proxy`; handlers answer
    aiosmtpd's `handle_PROXY` hook with `admit_proxied` and count messages at MAIL with
    `count_message`.
    """

    limits: ConnectionLimits | None = None
    tls_after_proxy: ssl.SSLContext | None = None
    session_id = ""
    messages = 0  # MAIL commands accepted in this connection
    _counted: str | None = None  # the address this connection is counted under

    def __init__(
        self, handler: object, *, proxy_protocol_timeout: float | None = None, **options: Any
    ) -> None:
        super().__init__(handler, proxy_protocol_timeout=proxy_protocol_timeout, **options)
        self.proxy_protocol_timeout = proxy_protocol_timeout  # None: no PROXY header expected

    @property
    def client_ip(self) -> str:
        raise NotImplementedError  # IngressSMTP: the PROXY source address, else the peer's

    async def _handle_client(self) -> None:  # aiosmtpd's session task (see aiosmtpd_private)
        # Without a PROXY header the socket's address is final now; with one, aiosmtpd reads
        # the header first and asks `handle_PROXY` (→ admit_proxied) before its greeting.
        if self.proxy_protocol_timeout is None:
            admitted = await self._admit()
        else:
            admitted = await self._from_trusted_proxy()
        if admitted:
            await super()._handle_client()

    async def admit_proxied(self) -> bool:
        """The `handle_PROXY` answer: TLS first on an implicit-TLS listener, then the limits
        by the header's source address. False closes the connection."""
        log.debug("session %s: client %s via proxy %r", self.session_id, self.client_ip, self._peer)
        if self.tls_after_proxy is not None and not await self._start_tls(self.tls_after_proxy):
            return False
        return await self._admit()

    def count_message(self) -> str | None:
        """Count a MAIL command: None while under the per-session cap, else the 421 to answer
        it with; the connection then closes once that reply is written."""
        self.messages += 1
        limits = self.limits
        if limits is None or self.messages <= limits.max_messages:
            return None
        log.info("session %s: %s sent too many messages", self.session_id, self.client_ip)
        # aiosmtpd writes the hook's reply to the transport before it next yields to the loop.
        self.loop.call_soon(self._close)
        return TOO_MANY_MESSAGES

    async def refuse(self, reply: str) -> None:
        """Answer `reply` (a 421) and close the connection."""
        await self.push(reply)
        self._close()

    def connection_lost(self, error: Exception | None) -> None:
        counted, self._counted = self._counted, None
        if counted is not None and self.limits is not None:
            self.limits.release(counted)
        super().connection_lost(error)

    def _create_session(self) -> Session:
        # Documented as overridable (see aiosmtpd_private). aiosmtpd starts a new session
        # after STARTTLS: keep the PROXY header's addresses.
        session = super()._create_session()
        if self.session is not None:
            session.proxy_data = self.session.proxy_data
        return session

    async def _admit(self) -> bool:
        limits = self.limits
        if limits is None:
            return True
        client = self.client_ip
        refusal = limits.acquire(client)
        if refusal is None:
            self._counted = client
            log.debug(
                "session %s: connection from %s (%d open)", self.session_id, client, limits.open
            )
            return True
        log.info("session %s: connection from %s refused: %s", self.session_id, client, refusal)
        await self.refuse(refusal)
        return False

    async def _from_trusted_proxy(self) -> bool:
        """Whether the peer may send a PROXY header; checked before reading anything, so
        nobody else can hold a connection open uncounted for the header timeout."""
        limits = self.limits
        if limits is not None and in_networks(self._peer, limits.proxy_networks):
            return True
        log.info("session %s: %s is not a trusted proxy", self.session_id, self._peer)
        if self.tls_after_proxy is None:
            await self.push(UNTRUSTED_PROXY)
        self._close()
        return False

    async def _start_tls(self, context: ssl.SSLContext) -> bool:
        """TLS from here on, as aiosmtpd's STARTTLS sets it up, except that the bytes already
        read past the PROXY header (the ClientHello) go to the TLS layer first."""
        raw = self.transport
        assert raw is not None
        waiter = self.loop.create_future()
        tls = sslproto.SSLProtocol(self.loop, self, context, waiter, server_side=True)
        app_transport = adopt_tls(self, tls, raw)
        raw.set_protocol(tls)
        self.transport = app_transport
        tls.connection_made(raw)
        _feed(tls, take_buffered(self))
        resume = getattr(raw, "resume_reading", None)  # uvloop's transports: no subclass
        if resume is not None:
            resume()  # the stream reader may have paused it on a long ClientHello
        try:
            await waiter
        except Exception as error:
            log.info("session %s: TLS handshake failed: %r", self.session_id, error)
            # The TLS layer reports no connection_lost before a handshake; do it as
            # aiosmtpd does after a failed STARTTLS.
            self.loop.call_soon(self.connection_lost, error)
            return False
        return True

    @property
    def _peer(self) -> str:
        peer: Any = self.session.peer if self.session is not None else None
        return str(peer[0]) if peer else ""

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def admission_setup(
    settings: SmtpSettings,
    listener: ListenerName,
    limits: ConnectionLimits | None,
    implicit_tls: ssl.SSLContext | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(aiosmtpd options, protocol attributes) of a listener: the PROXY header timeout when it
    expects one, the listener set's limits, and TLS after the header on implicit TLS."""
    if listener not in settings.proxy_protocol:
        return {}, {"limits": limits}
    options = {"proxy_protocol_timeout": settings.proxy_protocol_timeout_seconds}
    return options, {"limits": limits, "tls_after_proxy": implicit_tls}


def _feed(protocol: asyncio.BufferedProtocol, data: bytes) -> None:
    view = memoryview(data)
    while view:
        buffer = memoryview(protocol.get_buffer(len(view)))
        size = min(len(buffer), len(view))
        buffer[:size] = view[:size]
        protocol.buffer_updated(size)
        view = view[size:]
