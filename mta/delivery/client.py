"""The SMTP client side: an open session to one next hop (opportunistic STARTTLS), reused
for several messages with RSET between transactions; one transaction per recipient, each
with its own VERP return path."""

from __future__ import annotations

import ssl
from typing import Literal, Protocol

import aiosmtplib
import msgspec

from mta.delivery.classify import reply_from
from mta.delivery.routing import NextHop
from mta.errors import TransientFailure
from mta.model import SmtpReply


class AuthRefused(TransientFailure):
    """A smarthost refused our credentials (TLS worked, so no plaintext retry)."""


class Transaction(msgspec.Struct, frozen=True):
    mail_from: str
    recipient: str


TlsMode = Literal["off", "try", "require", "verify"]
POLICY_MODES: dict[str, TlsMode] = {"none": "off", "require": "require", "verify": "verify"}


class TlsInfo(msgspec.Struct, frozen=True):
    version: str
    cipher: str


class SmtpSession(Protocol):
    """One open connection; `broken` once it can carry no more transactions."""

    host: str
    tls: TlsInfo | None
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


def tls_info(client: aiosmtplib.SMTP) -> TlsInfo | None:
    ssl_object = client.get_transport_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TlsInfo(ssl_object.version() or "", cipher[0] if cipher else "")


def mail_options(
    transaction: Transaction, content: bytes, extensions: dict[str, str]
) -> list[str] | SmtpReply:
    """MAIL FROM parameters for what the message needs of the next hop, or the permanent
    failure when the hop lacks it: a UTF-8 address needs SMTPUTF8 (RFC 6531 forbids a silent
    downgrade), 8-bit content is declared BODY=8BITMIME and needs 8BITMIME (RFC 6152)."""
    options: list[str] = []
    if not content.isascii():
        if "8bitmime" not in extensions:
            return SmtpReply(554, "5.6.3", "the next hop does not accept 8-bit content (8BITMIME)")
        options.append("BODY=8BITMIME")
    if not (transaction.mail_from.isascii() and transaction.recipient.isascii()):
        if "smtputf8" not in extensions:
            return SmtpReply(
                553, "5.6.7", "the next hop does not accept UTF-8 addresses (SMTPUTF8)"
            )
        options.append("SMTPUTF8")
    return options


class AiosmtplibSession:
    """SmtpSession over aiosmtplib."""

    def __init__(self, client: aiosmtplib.SMTP, hop: NextHop) -> None:
        self._client = client
        self.host = hop.host
        self.tls = tls_info(client)
        self.broken = False
        self._dirty = False  # a transaction was started since the last RSET

    async def send(self, transactions: list[Transaction], content: bytes) -> list[SmtpReply]:
        replies: list[SmtpReply] = []
        try:
            for transaction in transactions:
                replies.append(await self._transaction(transaction, content))
        except (aiosmtplib.SMTPException, OSError) as exc:
            self.broken = True
            lost = SmtpReply(451, "4.4.2", f"connection to {self.host} lost: {exc}")
            replies.extend([lost] * (len(transactions) - len(replies)))
        return replies

    async def _transaction(self, transaction: Transaction, content: bytes) -> SmtpReply:
        options = mail_options(transaction, content, self._client.esmtp_extensions)
        if isinstance(options, SmtpReply):
            return options
        if self._dirty:
            await self._client.rset()
        self._dirty = True
        try:
            encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
            await self._client.mail(transaction.mail_from, options=options, encoding=encoding)
            await self._client.rcpt(transaction.recipient, encoding=encoding)
            response = await self._client.data(content)
        except (
            aiosmtplib.SMTPRecipientRefused,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPDataError,
        ) as exc:
            if exc.code == 421:  # the server is closing the connection
                self.broken = True
            return reply_from(exc.code, exc.message)
        self._dirty = False
        return reply_from(response.code, response.message)

    async def close(self) -> None:
        try:
            await self._client.quit()
        except (aiosmtplib.SMTPException, OSError):
            self._client.close()


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

    async def _open(self, hop: NextHop, mode: TlsMode) -> AiosmtplibSession:
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
        return AiosmtplibSession(client, hop)

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


def _failed(hop: NextHop, mode: TlsMode, exc: BaseException) -> SmtpReply:
    where = f"{hop.host} [{hop.address}]:{hop.port}"
    if isinstance(exc.__cause__ or exc, ssl.SSLCertVerificationError) or "CERTIFICATE" in str(exc):
        return SmtpReply(451, "4.7.5", f"TLS certificate of {where} not accepted: {exc}")
    if mode in ("require", "verify") and isinstance(exc.__cause__ or exc, ssl.SSLError):
        return SmtpReply(451, "4.7.5", f"TLS with {where} failed: {exc}")
    return SmtpReply(451, "4.4.1", f"connection to {where} failed: {exc}")
