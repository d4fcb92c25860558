"""The SMTP client side: an open session to one next hop (opportunistic STARTTLS), reused
for several messages with RSET between transactions; one transaction per recipient, each
with its own VERP return path."""

from __future__ import annotations

import ssl
from typing import Protocol

import aiosmtplib
import msgspec

from mta.delivery.classify import reply_from
from mta.delivery.routing import NextHop
from mta.errors import TransientFailure
from mta.model import SmtpReply


class Transaction(msgspec.Struct, frozen=True):
    mail_from: str
    recipient: str


class SmtpSession(Protocol):
    """One open connection; `broken` once it can carry no more transactions."""

    host: str
    tls: bool
    broken: bool

    async def send(self, transactions: list[Transaction], content: bytes) -> list[SmtpReply]: ...
    async def close(self) -> None: ...


class SmtpConnector(Protocol):
    async def open(self, hop: NextHop) -> SmtpSession: ...


def opportunistic_context() -> ssl.SSLContext:
    """Encrypt when offered, without certificate checks (RFC 7435 opportunistic security)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class AiosmtplibSession:
    """SmtpSession over aiosmtplib."""

    def __init__(self, client: aiosmtplib.SMTP, hop: NextHop, tls: bool) -> None:
        self._client = client
        self.host = hop.host
        self.tls = tls
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
        if self._dirty:
            await self._client.rset()
        self._dirty = True
        try:
            await self._client.mail(transaction.mail_from)
            await self._client.rcpt(transaction.recipient)
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
    def __init__(self, helo_name: str, connect_timeout: float, command_timeout: float) -> None:
        self._helo = helo_name
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._tls_context = opportunistic_context()

    async def open(self, hop: NextHop) -> SmtpSession:
        try:
            return await self._open(hop, try_tls=True)
        except TransientFailure:  # a broken STARTTLS: retry once in the clear
            return await self._open(hop, try_tls=False)

    async def _open(self, hop: NextHop, try_tls: bool) -> AiosmtplibSession:
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
            if try_tls and client.supports_extension("starttls"):
                await client.starttls(server_hostname=hop.host, tls_context=self._tls_context)
                return AiosmtplibSession(client, hop, tls=True)
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise TransientFailure(
                reply_from(exc.code, exc.message), "destination", hop.host
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            reply = SmtpReply(
                451,
                "4.4.1",
                f"connection to {hop.host} [{hop.address}]:{hop.port} failed: {exc}",
            )
            raise TransientFailure(reply, "destination", hop.host) from None
        return AiosmtplibSession(client, hop, tls=False)
