"""SMTP transactions on a connection aiosmtplib has opened (greeting, EHLO, STARTTLS, AUTH):
MAIL, RCPT and DATA in one write where the server offers PIPELINING (RFC 2920), the body
CRLF-only and dot-stuffed on the wire, RSET after a failed transaction, QUIT."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import cast

import msgspec

from mta.delivery.classify import reply_from
from queue_store.entries import SmtpReply

MAX_REPLY = 64 * 1024  # a longer reply is hostile or broken
REPLY_LINE = re.compile(rb"(\d{3})([ -])(.*)")
UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x1f\x7f<>]")


class Transaction(msgspec.Struct, frozen=True):
    mail_from: str
    recipient: str


class TlsInfo(msgspec.Struct, frozen=True):
    version: str
    cipher: str


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


class ReplyError(ConnectionError):
    """The server sent something that is not an SMTP reply, or far too much of one."""


def take_replies(buffer: bytearray) -> list[tuple[int, str]]:
    """Remove every complete reply at the start of `buffer`: (code, text lines joined)."""
    replies: list[tuple[int, str]] = []
    start = 0
    lines: list[bytes] = []
    while (end := buffer.find(b"\n", start)) != -1:
        match = REPLY_LINE.fullmatch(buffer[start:end].rstrip(b"\r"))
        if match is None:
            raise ReplyError(f"malformed SMTP reply line {bytes(buffer[start:end])[:80]!r}")
        start = end + 1
        lines.append(match.group(3))
        if match.group(2) == b" ":
            text = b" ".join(lines).decode("utf-8", "replace")
            replies.append((int(match.group(1)), text))
            lines = []
            del buffer[:start]
            start = 0
    if len(buffer) > MAX_REPLY:
        raise ReplyError("SMTP reply too long")
    return replies


def wire_body(content: bytes) -> bytes:
    """The DATA section as it goes on the wire: CRLF line endings only (a bare CR or LF
    becomes CRLF), every line starting with a dot stuffed, then the terminator."""
    if content.count(b"\n") != content.count(b"\r\n") or content.count(b"\r") != content.count(
        b"\r\n"
    ):
        content = b"\r\n".join(re.split(rb"\r\n|\r|\n", content))
    if not content.endswith(b"\r\n"):
        content += b"\r\n"
    if content.startswith(b"."):
        content = b"." + content
    if b"\r\n." in content:
        content = content.replace(b"\r\n.", b"\r\n..")
    return content + b".\r\n"


def envelope_commands(
    mail_from: str, recipient: str, options: list[str], *, reset: bool
) -> list[bytes]:
    """[RSET,] MAIL, RCPT and DATA command lines; ValueError for an address that could
    inject a command (a control character or an angle bracket)."""
    if UNSAFE_IN_ADDRESS.search(mail_from) or UNSAFE_IN_ADDRESS.search(recipient):
        raise ValueError("address contains a control character or an angle bracket")
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    mail = " ".join([f"MAIL FROM:<{mail_from}>", *options])
    lines = [mail, f"RCPT TO:<{recipient}>", "DATA"]
    if reset:
        lines.insert(0, "RSET")
    return [f"{line}\r\n".encode(encoding) for line in lines]


class ReplyChannel(asyncio.Protocol):
    """The protocol a connection is handed to once open: queues replies as they arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._replies: deque[tuple[int, str]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._error: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._replies.extend(take_replies(self._buffer))
        except ReplyError as error:
            self._fail(error)
            return
        if self._replies:
            self._wake()

    def eof_received(self) -> bool:
        self._fail(ConnectionError("connection closed by the server"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection lost"))

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._wake()
        self.resume_writing()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def write(self, data: bytes) -> None:
        if self._error is not None or self.transport is None:
            raise self._error or ConnectionError("not connected")
        self.transport.write(data)
        if self._writable is not None:
            await self._writable

    async def reply(self, timeout: float) -> SmtpReply:
        while not self._replies:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            async with asyncio.timeout(timeout):
                await self._waiter
        code, text = self._replies.popleft()
        return reply_from(code, text)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PipelinedSession:
    """An SmtpSession (see mta/delivery/client.py) over a ReplyChannel: one transaction per
    recipient, each MAIL/RCPT/DATA group written at once when the server pipelines."""

    def __init__(
        self,
        channel: ReplyChannel,
        *,
        host: str,
        tls: TlsInfo | None,
        extensions: dict[str, str],
        timeout: float,
        source_ip: str = "",
    ) -> None:
        self._channel = channel
        self.host = host
        self.tls = tls
        self.source_ip = source_ip
        self.broken = False
        self._extensions = extensions
        self._pipelining = "pipelining" in extensions
        self._timeout = timeout
        self._dirty = False  # a transaction failed since the last RSET

    async def send(self, transactions: list[Transaction], content: bytes) -> list[SmtpReply]:
        replies: list[SmtpReply] = []
        body = wire_body(content)
        try:
            for transaction in transactions:
                replies.append(await self._transaction(transaction, content, body))
        except (OSError, TimeoutError) as exc:  # ConnectionError and ReplyError included
            self.broken = True
            lost = SmtpReply(451, "4.4.2", f"connection to {self.host} lost: {exc}")
            replies.extend([lost] * (len(transactions) - len(replies)))
        return replies

    async def _transaction(
        self, transaction: Transaction, content: bytes, body: bytes
    ) -> SmtpReply:
        options = mail_options(transaction, content, self._extensions)
        if isinstance(options, SmtpReply):
            return options
        try:
            commands = envelope_commands(
                transaction.mail_from, transaction.recipient, options, reset=self._dirty
            )
        except (ValueError, UnicodeEncodeError) as exc:
            return SmtpReply(553, "5.1.3", f"address not sendable: {exc}")
        self._dirty = False  # the RSET, if one was due, goes out with this group
        answers = await self._exchange(commands)
        failure = next((a for a in answers if a.code >= 400 and a.code != 354), None)
        if failure is None and answers[-1].code != 354:  # DATA "accepted" without a body
            self.broken = True  # a server we no longer understand: nothing more goes to it
            return SmtpReply(451, "4.5.0", f"{self.host} answered DATA with {answers[-1].code}")
        if failure is not None:
            return await self._failed(failure, answers[-1])
        await self._channel.write(body)
        final = await self._channel.reply(self._timeout)
        self.broken = final.code == 421
        return final

    async def _exchange(self, commands: list[bytes]) -> list[SmtpReply]:
        """Each command's reply: all written at once when pipelining, else one by one,
        stopping at the first refusal (the rest count as not sent)."""
        if self._pipelining:
            await self._channel.write(b"".join(commands))
            return [await self._channel.reply(self._timeout) for _ in commands]
        answers: list[SmtpReply] = []
        for command in commands:
            await self._channel.write(command)
            answers.append(await self._channel.reply(self._timeout))
            if answers[-1].code >= 400:
                break
        return answers

    async def _failed(self, failure: SmtpReply, last: SmtpReply) -> SmtpReply:
        """After a refused MAIL, RCPT or DATA: end a DATA the server opened anyway, and
        reset before the next transaction; 421 means the server is going away."""
        self._dirty = True
        if last.code == 354:
            await self._channel.write(b".\r\n")
            await self._channel.reply(self._timeout)
        if failure.code == 421:
            self.broken = True
        return failure

    async def close(self) -> None:
        try:
            if not self.broken:
                await self._channel.write(b"QUIT\r\n")
                await self._channel.reply(min(self._timeout, 5.0))
        except (OSError, TimeoutError):
            pass
        finally:
            self._channel.close()
