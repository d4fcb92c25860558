"""Our SMTP transaction code: reply parsing, the wire form of a body, command lines, and whole
transactions against a scripted server on loopback (pipelined and not, and its failures)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from mta.delivery.pipelining import (
    PipelinedSession,
    ReplyChannel,
    ReplyError,
    Transaction,
    envelope_commands,
    take_replies,
    wire_body,
)


@pytest.mark.parametrize(
    ("data", "replies", "rest"),
    [
        (b"250 ok\r\n", [(250, "ok")], b""),
        (b"250-a\r\n250-b\r\n250 c\r\n", [(250, "a b c")], b""),
        (b"250 ok\r\n354 go\r\n", [(250, "ok"), (354, "go")], b""),
        (b"250 ok\r\n550-no", [(250, "ok")], b"550-no"),
        (b"250-a\r\n250 b", [], b"250-a\r\n250 b"),
        (b"250\r\n", [], b"250\r\n"),  # no separator: not a complete reply line yet
        (b"221 bye\n", [(221, "bye")], b""),  # a bare LF is tolerated from servers
    ],
)
def test_take_replies(data: bytes, replies: list[tuple[int, str]], rest: bytes) -> None:
    buffer = bytearray(data)
    if data == b"250\r\n":
        with pytest.raises(ReplyError):
            take_replies(buffer)
        return
    assert take_replies(buffer) == replies
    assert bytes(buffer) == rest


@pytest.mark.parametrize("data", [b"hello\r\n", b"25x ok\r\n", b"250 " + b"x" * 70_000])
def test_take_replies_refuses_what_is_not_a_reply(data: bytes) -> None:
    with pytest.raises(ReplyError):
        take_replies(bytearray(data))


@pytest.mark.parametrize(
    ("content", "wire"),
    [
        (b"a\r\nb\r\n", b"a\r\nb\r\n.\r\n"),
        (b"a\r\nb", b"a\r\nb\r\n.\r\n"),
        (b"", b"\r\n.\r\n"),
        (b".a\r\n..b\r\n.\r\n", b"..a\r\n...b\r\n..\r\n.\r\n"),
        (b"a\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),  # the smuggling sequence, made harmless
        (b"a\r.\rb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\r\nb\r\n", b"a\r\n\r\nb\r\n.\r\n"),
    ],
)
def test_wire_body(content: bytes, wire: bytes) -> None:
    assert wire_body(content) == wire


def test_envelope_commands() -> None:
    assert envelope_commands("a@x.test", "b@y.test", ["BODY=8BITMIME"], reset=True) == [
        b"RSET\r\n",
        b"MAIL FROM:<a@x.test> BODY=8BITMIME\r\n",
        b"RCPT TO:<b@y.test>\r\n",
        b"DATA\r\n",
    ]
    assert envelope_commands("", "ü@y.test", ["SMTPUTF8"], reset=False)[1] == (
        "RCPT TO:<ü@y.test>\r\n".encode()
    )


@pytest.mark.parametrize("recipient", ["b@y.test>\r\nRCPT TO:<c@z.test", "b@y.test\x00", "<b@y"])
def test_envelope_commands_refuse_injection(recipient: str) -> None:
    with pytest.raises(ValueError):
        envelope_commands("a@x.test", recipient, [], reset=False)


Script = Callable[[bytes], bytes | None]  # a command line → the reply (None: hang up)


class ScriptedServer:
    """Answers each command line by `script`, the message body with 250; records every
    chunk it reads, so a test can see what the client wrote before waiting for replies."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.chunks: list[bytes] = []
        self.bodies: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted\r\n")
        pending = b""
        in_data = False
        while chunk := await reader.read(65536):
            self.chunks.append(chunk)
            pending += chunk
            while True:
                if in_data:
                    end = (b"\r\n" + pending).find(b"\r\n.\r\n")  # the DATA line's CRLF
                    if end == -1:
                        break
                    self.bodies.append(pending[:end])
                    pending, in_data = pending[end + 3 :], False
                    writer.write(b"250 2.0.0 body ok\r\n")
                    continue
                line, sep, rest = pending.partition(b"\r\n")
                if not sep:
                    break
                pending = rest
                answer = self.script(line)
                if answer is None:
                    writer.close()
                    return
                writer.write(answer + b"\r\n")
                in_data = answer.startswith(b"354")
        writer.close()


def script(**answers: bytes | None) -> Script:
    defaults: dict[str, bytes | None] = {
        "MAIL": b"250 2.1.0 ok",
        "RCPT": b"250 2.1.5 ok",
        "DATA": b"354 go",
        "RSET": b"250 2.0.0 reset",
        "QUIT": b"221 2.0.0 bye",
    }
    defaults.update(answers)
    return lambda line: defaults.get(line.split(b" ")[0].split(b":")[0].decode(), b"500 what")


@pytest.fixture
async def open_session() -> AsyncIterator[Callable[..., object]]:
    servers: list[asyncio.base_events.Server] = []

    async def open_(
        server: ScriptedServer, pipelining: bool = True
    ) -> tuple[PipelinedSession, ReplyChannel]:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        servers.append(listening)
        port = listening.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        _, channel = await loop.create_connection(ReplyChannel, "127.0.0.1", port)
        assert (await channel.reply(5)).code == 220
        extensions = {"pipelining": ""} if pipelining else {}
        session = PipelinedSession(
            channel, host="scripted", tls=None, extensions=extensions, timeout=5
        )
        return session, channel

    yield open_
    for listening in servers:
        listening.close()


ONE = [Transaction("bounces@x.test", "ada@y.test")]


@pytest.mark.parametrize("pipelining", [True, False])
async def test_a_transaction_pipelined_or_not(open_session, pipelining: bool) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(script())
    session, _ = await open_session(server, pipelining)
    replies = await session.send(ONE * 2, b"Subject: x\r\n\r\n.hidden dot\r\n")
    assert [r.code for r in replies] == [250, 250]
    assert server.bodies == [b"Subject: x\r\n\r\n..hidden dot\r\n"] * 2
    grouped = any(b"MAIL FROM" in c and b"DATA\r\n" in c for c in server.chunks)
    assert grouped is pipelining
    await session.close()


def refusing_the_first_recipient() -> Script:
    """RCPT refused once (and DATA then refused for want of recipients), then all well."""
    recipients = 0
    plain = script()

    def answer(line: bytes) -> bytes | None:
        nonlocal recipients
        if line.startswith(b"RCPT"):
            recipients += 1
            return b"550 5.1.1 no such user" if recipients == 1 else b"250 2.1.5 ok"
        if line.startswith(b"DATA") and recipients == 1:
            return b"503 5.5.1 no valid recipients"
        return plain(line)

    return answer


async def test_a_refused_recipient_then_rset_before_the_next(open_session) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(refusing_the_first_recipient())
    session, _ = await open_session(server)
    replies = await session.send(ONE * 2, b"x\r\n")
    assert [(r.code, r.enhanced) for r in replies] == [(550, "5.1.1"), (250, "2.0.0")]
    sent = b"".join(server.chunks)
    assert sent.count(b"RSET\r\n") == 1 and sent.index(b"RSET") > sent.index(b"RCPT")
    assert not session.broken


async def test_a_server_opening_data_after_refusing_every_recipient(open_session) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(script(RCPT=b"550 5.1.1 no such user"))  # and DATA still 354
    session, _ = await open_session(server)
    replies = await session.send(ONE, b"x\r\n")
    assert replies[0].code == 550
    assert server.bodies == [b""]  # we ended its DATA with an empty body, sent nothing
    assert (await session.send(ONE, b"x\r\n"))[0].code == 550  # and the session goes on


async def test_421_breaks_the_session(open_session) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(script(MAIL=b"421 4.7.0 go away"))
    session, _ = await open_session(server)
    assert (await session.send(ONE, b"x\r\n"))[0].code == 421
    assert session.broken


async def test_a_connection_dropped_mid_transaction_defers(open_session) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(script(DATA=None))
    session, _ = await open_session(server)
    replies = await session.send(ONE * 2, b"x\r\n")
    assert [(r.code, r.enhanced) for r in replies] == [(451, "4.4.2")] * 2
    assert session.broken


async def test_a_data_command_answered_250_defers_and_breaks_the_session(open_session) -> None:  # type: ignore[no-untyped-def]
    server = ScriptedServer(script(DATA=b"250 2.0.0 thanks, no body needed"))
    session, _ = await open_session(server)
    replies = await session.send(ONE, b"secret body\r\n")
    assert (replies[0].code, replies[0].enhanced) == (451, "4.5.0")  # not delivered: deferred
    assert b"secret body" not in b"".join(server.chunks)  # never written into command mode
    assert session.broken


def test_a_multiline_reply_takes_the_code_of_its_last_line() -> None:
    buffer = bytearray(b"250-first\r\n550-second\r\n451 last\r\n")
    assert take_replies(buffer) == [(451, "first second last")]
