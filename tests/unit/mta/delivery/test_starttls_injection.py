"""The outbound client against a next hop that injects a reply with its STARTTLS answer
(hostile-input.md 2.2, the client-side twin of CVE-2011-0411): the injected bytes arrive
before TLS and must be discarded, not read as the answer to a later command."""

from __future__ import annotations

import asyncio
from pathlib import Path

from mta.delivery.client import AiosmtplibConnector
from mta.delivery.pipelining import Transaction
from mta.delivery.routing import NextHop
from mta.listeners.tls import ensure_certificate, server_context


class InjectingServer:
    """Answers STARTTLS with `220` and, in the same write, a forged `250`."""

    def __init__(self, cert_dir: Path) -> None:
        ensure_certificate(cert_dir / "mx.pem", cert_dir / "mx.key", "mx.test")
        self.tls = server_context(cert_dir / "mx.pem", cert_dir / "mx.key")
        self.received: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.test ESMTP\r\n")
        encrypted = False
        while line := await reader.readline():
            self.received.append(line)
            verb = line.split()[0].upper() if line.split() else b""
            if verb == b"EHLO":
                extensions = b"250-PIPELINING\r\n250 SIZE 100000" if encrypted else b"250 STARTTLS"
                writer.write(b"250-mx.test\r\n" + extensions + b"\r\n")
            elif verb == b"STARTTLS":
                writer.write(b"220 2.0.0 ready\r\n250 2.0.0 injected\r\n")
                await writer.drain()
                await writer.start_tls(self.tls)
                encrypted = True
            elif verb == b"DATA":
                writer.write(b"354 go\r\n")
                await reader.readuntil(b"\r\n.\r\n")
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 2.0.0 ok\r\n")
        writer.close()


async def test_injected_bytes_before_tls_are_discarded(tmp_path: Path) -> None:
    server = InjectingServer(tmp_path)
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    connector = AiosmtplibConnector("client.test", 5, 5)
    session = await connector.open(NextHop("mx.test", "127.0.0.1", port), "require")
    try:
        assert session.tls is not None
        replies = await session.send([Transaction("b@x.test", "a@mx.test")], b"hi\r\n")
        assert [(r.code, r.text) for r in replies] == [(250, "queued")]
        # after TLS the client asked again (EHLO) and learnt PIPELINING from the real answer
        commands = [line.split()[0] for line in server.received if line[:1].isalpha()]
        assert commands[:4] == [b"EHLO", b"STARTTLS", b"EHLO", b"MAIL"]
    finally:
        await session.close()
        listening.close()
