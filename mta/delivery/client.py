"""The SMTP client side: one connection to a next hop, opportunistic STARTTLS, one
transaction per recipient (each with its own VERP return path), RSET between them."""

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


class HopResult(msgspec.Struct, frozen=True):
    replies: list[SmtpReply]
    tls: bool


class SmtpConnector(Protocol):
    async def send(
        self, hop: NextHop, transactions: list[Transaction], content: bytes
    ) -> HopResult: ...


def _opportunistic_context() -> ssl.SSLContext:
    """Encrypt when offered, without certificate checks (RFC 7435 opportunistic security)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class AiosmtplibConnector:
    def __init__(self, helo_name: str, connect_timeout: float, command_timeout: float) -> None:
        self._helo = helo_name
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._tls_context = _opportunistic_context()

    async def _open(self, hop: NextHop, try_tls: bool) -> tuple[aiosmtplib.SMTP, bool]:
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
                return client, True
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise TransientFailure(
                reply_from(exc.code, exc.message), "destination", hop.host
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientFailure(
                SmtpReply(
                    451,
                    "4.4.1",
                    f"connection to {hop.host} [{hop.address}]:{hop.port} failed: {exc}",
                ),
                "destination",
                hop.host,
            ) from None
        return client, False

    async def send(
        self, hop: NextHop, transactions: list[Transaction], content: bytes
    ) -> HopResult:
        try:
            client, tls = await self._open(hop, try_tls=True)
        except TransientFailure:  # a broken STARTTLS: retry once in the clear
            client, tls = await self._open(hop, try_tls=False)
        replies = []
        try:
            for transaction in transactions:
                replies.append(await self._transaction(client, transaction, content))
        except (aiosmtplib.SMTPException, OSError) as exc:
            lost = SmtpReply(451, "4.4.2", f"connection to {hop.host} lost: {exc}")
            replies.extend([lost] * (len(transactions) - len(replies)))
        finally:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
        return HopResult(replies, tls)

    @staticmethod
    async def _transaction(
        client: aiosmtplib.SMTP, transaction: Transaction, content: bytes
    ) -> SmtpReply:
        try:
            await client.mail(transaction.mail_from)
            await client.rcpt(transaction.recipient)
            response = await client.data(content)
        except (
            aiosmtplib.SMTPRecipientRefused,
            aiosmtplib.SMTPSenderRefused,
            aiosmtplib.SMTPDataError,
        ) as exc:
            await client.rset()
            return reply_from(exc.code, exc.message)
        return reply_from(response.code, response.message)
