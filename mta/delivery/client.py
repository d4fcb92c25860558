"""The SMTP client side: opening a session to one next hop (aiosmtplib: connect, EHLO, the
TLS policy, AUTH to a smarthost), then reused for several messages through
mta/delivery/pipelining.py; one transaction per recipient, each with its own VERP path."""

from __future__ import annotations

import ssl
from typing import Literal, Protocol

import aiosmtplib

from config.settings import DeliverySettings
from mta.core.errors import TransientFailure
from mta.delivery.classify import reply_from
from mta.delivery.pipelining import PipelinedSession, ReplyChannel, TlsInfo, Transaction
from mta.delivery.routing import NextHop
from queue_store.entries import SmtpReply


class AuthRefused(TransientFailure):
    """A smarthost refused our credentials (TLS worked, so no plaintext retry)."""


TlsMode = Literal["off", "try", "require", "verify"]
POLICY_MODES: dict[str, TlsMode] = {"none": "off", "require": "require", "verify": "verify"}


class SmtpSession(Protocol):
    """One open connection; `broken` once it can carry no more transactions."""

    host: str
    tls: TlsInfo | None
    source_ip: str  # our address on this connection: the `ip` of delivered events
    broken: bool

    async def send(self, transactions: list[Transaction], content: bytes) -> list[SmtpReply]: ...
    async def close(self) -> None: ...


class SmtpConnector(Protocol):
    async def open(self, hop: NextHop, policy: str) -> SmtpSession: ...


def opportunistic_context() -> ssl.SSLContext:
    """Encrypt when offered, without certificate checks (RFC 7435 opportunistic security)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def verifying_context(ca_file: str) -> ssl.SSLContext:
    """Certificates must chain to the CA bundle (or the system store) and name the MX host."""
    return ssl.create_default_context(cafile=ca_file or None)


def route_credentials(delivery: DeliverySettings) -> dict[str, tuple[str, str]]:
    """`[delivery] route_auth` as "host:port" → (username, password)."""
    return {hop: (auth.username, auth.password) for hop, auth in delivery.route_auth.items()}


def tls_info(client: aiosmtplib.SMTP) -> TlsInfo | None:
    ssl_object = client.get_transport_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsInfo(ssl_object.version() or "", cipher[0] if cipher else "")


class AiosmtplibConnector:
    def __init__(
        self,
        helo_name: str,
        connect_timeout: float,
        command_timeout: float,
        ca_file: str = "",
        credentials: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        self._helo = helo_name
        self._credentials = credentials or {}  # "host:port" → (username, password)
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._contexts = {
            "try": opportunistic_context(),
            "require": opportunistic_context(),
            "verify": verifying_context(ca_file),
        }

    @classmethod
    def from_settings(cls, helo_name: str, delivery: DeliverySettings) -> AiosmtplibConnector:
        return cls(
            helo_name,
            delivery.connect_timeout_seconds,
            delivery.command_timeout_seconds,
            ca_file=delivery.tls_ca_file,
            credentials=route_credentials(delivery),
        )

    def apply_settings(self, delivery: DeliverySettings) -> None:
        """Timeouts, CA bundle and smarthost credentials of `[delivery]`, for the sessions
        opened from now on (a reload). A CA bundle that does not load raises, changing nothing."""
        self._contexts["verify"] = verifying_context(delivery.tls_ca_file)
        self._connect_timeout = delivery.connect_timeout_seconds
        self._command_timeout = delivery.command_timeout_seconds
        self._credentials = route_credentials(delivery)

    async def open(self, hop: NextHop, policy: str) -> SmtpSession:
        """A session under the TLS policy: none | opportunistic | require | verify."""
        if policy != "opportunistic":
            return await self._open(hop, POLICY_MODES[policy])
        try:
            return await self._open(hop, "try")
        except AuthRefused:
            raise
        except TransientFailure:  # a broken STARTTLS: opportunistic falls back to plaintext
            return await self._open(hop, "off")

    async def _open(self, hop: NextHop, mode: TlsMode) -> PipelinedSession:
        client = aiosmtplib.SMTP(
            hostname=hop.address,
            port=hop.port,
            local_hostname=self._helo,
            timeout=self._command_timeout,
            start_tls=False,
        )
        try:
            await client.connect(timeout=self._connect_timeout)
            await client.ehlo()
            await self._negotiate(client, hop, mode)
            await self._authenticate(client, hop)
        except TransientFailure:
            client.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise TransientFailure(
                reply_from(exc.code, exc.message), "destination", hop.host
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientFailure(_failed(hop, mode, exc), "destination", hop.host) from None
        return _hand_over(client, hop, self._command_timeout)

    async def _negotiate(self, client: aiosmtplib.SMTP, hop: NextHop, mode: TlsMode) -> None:
        if mode == "off" or (mode == "try" and not client.supports_extension("starttls")):
            return
        if not client.supports_extension("starttls"):
            reply = SmtpReply(
                451, "4.7.10", f"{hop.host} does not offer STARTTLS, which the TLS policy requires"
            )
            raise TransientFailure(reply, "destination", hop.host)
        await client.starttls(server_hostname=hop.host, tls_context=self._contexts[mode])
        await client.ehlo()  # RFC 3207: the server forgets the first EHLO after STARTTLS

    async def _authenticate(self, client: aiosmtplib.SMTP, hop: NextHop) -> None:
        """AUTH to a smarthost that has credentials, and only over TLS."""
        credentials = self._credentials.get(f"{hop.host}:{hop.port}")
        if credentials is None:
            return
        if tls_info(client) is None:
            reply = SmtpReply(451, "4.7.10", f"not sending credentials to {hop.host} without TLS")
            raise TransientFailure(reply, "destination", hop.host)
        try:
            await client.auth_plain(*credentials)  # PLAIN: over TLS, what smarthosts take
        except aiosmtplib.SMTPResponseException as exc:  # a configuration problem: defer
            reply = SmtpReply(454, "4.7.0", f"{hop.host} refused our credentials: {exc.message}")
            raise AuthRefused(reply, "destination", hop.host) from None


def _hand_over(client: aiosmtplib.SMTP, hop: NextHop, timeout: float) -> PipelinedSession:
    """The open connection, handed from aiosmtplib (greeting, EHLO, STARTTLS, AUTH) to our
    own transaction code, which pipelines (aiosmtplib sends one command per round trip)."""
    transport = client.transport
    assert transport is not None
    channel = ReplyChannel()
    transport.set_protocol(channel)
    channel.connection_made(transport)
    sockname = transport.get_extra_info("sockname")
    return PipelinedSession(
        channel,
        host=hop.host,
        tls=tls_info(client),
        source_ip=str(sockname[0]) if sockname else "",
        extensions=dict(client.esmtp_extensions),
        timeout=timeout,
    )


def _failed(hop: NextHop, mode: TlsMode, exc: BaseException) -> SmtpReply:
    where = f"{hop.host} [{hop.address}]:{hop.port}"
    if isinstance(exc.__cause__ or exc, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(exc):
        return SmtpReply(451, "4.7.5", f"TLS certificate of {where} not accepted: {exc}")
    if mode in ("require", "verify") and isinstance(exc.__cause__ or exc, ssl.SSLError):
        return SmtpReply(451, "4.7.5", f"TLS with {where} failed: {exc}")
    return SmtpReply(451, "4.4.1", f"connection to {where} failed: {exc}")
