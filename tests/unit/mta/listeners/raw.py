"""A line-level SMTP client on a raw socket, for what aiosmtplib hides: the reply in place of
the greeting, PROXY headers before it, and whether the server closed the connection.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
import struct
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass
from ipaddress import IPv4Address

TIMEOUT = 5.0


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def plain_auth(key: str) -> str:
    return "AUTH PLAIN " + base64.b64encode(f"\0apikey\0{key}".encode()).decode()


def proxy_v1(source: str, port: int = 40000) -> bytes:
    return f"PROXY TCP4 {source} 127.0.0.1 {port} 25\r\n".encode()


def proxy_v2(source: str, port: int = 40000) -> bytes:
    """A PROXY protocol v2 header: PROXY command over TCP/IPv4."""
    addresses = IPv4Address(source).packed + IPv4Address("127.0.0.1").packed
    body = addresses + struct.pack("!HH", port, 25)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


@dataclass
class RawClient:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def reply(self) -> str:
        """The last line of the next reply ("250 2.0.0 Ok"), or "" when the server closed."""
        while True:
            line = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
            if not line:
                return ""
            text = line.decode("ascii").rstrip("\r\n")
            if text[3:4] != "-":
                return text

    async def command(self, line: str) -> str:
        self.writer.write(line.encode("ascii") + b"\r\n")
        await self.writer.drain()
        return await self.reply()

    async def starttls(self) -> None:
        assert (await self.command("STARTTLS")).startswith("220")
        await self.writer.start_tls(client_tls())

    async def closed_by_server(self) -> bool:
        """True once the server has closed the connection (after anything still unread)."""
        try:
            await asyncio.wait_for(self.reader.read(), TIMEOUT)
        except TimeoutError:
            return False
        except (ConnectionError, ssl.SSLError):
            return True
        return self.reader.at_eof()


@asynccontextmanager
async def raw_client(
    port: int, *, source: str = "127.0.0.1", tls: bool = False, header: bytes = b""
) -> AsyncIterator[RawClient]:
    """Connected from `source`; `header` is sent first (before TLS when `tls`)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        if header:
            writer.write(header)
            await writer.drain()
        if tls:
            await writer.start_tls(client_tls())
        yield RawClient(reader, writer)
    finally:
        writer.close()
        with suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def greeted(port: int, **options: object) -> bool:
    """Whether a new connection gets the 220 greeting (retrying briefly: the server counts a
    closed connection out only once it has seen the close)."""
    for _ in range(50):
        async with raw_client(port, **options) as client:  # type: ignore[arg-type]
            if (await client.reply()).startswith("220 "):
                return True
        await asyncio.sleep(0.02)
    return False


async def held_open(stack: AsyncExitStack, port: int, **options: object) -> RawClient | None:
    """Like `greeted`, but the greeted connection stays open until `stack` closes."""
    for _ in range(50):
        client = await stack.enter_async_context(raw_client(port, **options))  # type: ignore[arg-type]
        if (await client.reply()).startswith("220 "):
            return client
        await asyncio.sleep(0.02)
    return None
