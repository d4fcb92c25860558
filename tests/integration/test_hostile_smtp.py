"""Hostile and broken SMTP clients against the three listeners of a real server, in raw bytes
(../shared/reference/hostile-input.md 2.1-2.6): each test checks the replies and that
nothing was queued or relayed."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.api import account_with_key
from tests.support.raw_smtp import SMUGGLING, RawSmtp
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory, mx_sink, nameserver_of, recipients_dns
from tests.support.sink import SmtpSink

LIMIT = 100_000  # [smtp] max_message_bytes of the server under test
INBOUND = "inbound.scaisend.test"
RELAY_CLIENT = "127.0.0.3"  # the one trusted relay client
SMUGGLED = b"MAIL FROM:<ceo@mail.example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"


class World:
    def __init__(self, server: ScaisendServer, sink: SmtpSink, token: str, key: str) -> None:
        self.server, self.sink, self.token, self.key = server, sink, token, key

    def submission(self) -> RawSmtp:
        """An authenticated session on 587, after STARTTLS."""
        client = RawSmtp(self.server.submission_port)
        client.cmd("EHLO client.test")
        client.starttls()
        client.cmd("EHLO client.test")
        assert client.login(self.key).code == 235
        return client

    def logged(self) -> list[object]:
        response = httpx.get(
            f"{self.server.base_url}/v3/messages",
            params={"page_size": 100},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return list(response.json()["messages"])


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, make_module_server: Callable[..., ScaisendServer]
) -> Iterator[World]:
    dns, sink = recipients_dns(), mx_sink(tmp_path_factory.mktemp("hostile"))
    smtp = {
        "max_message_bytes": LIMIT,
        "max_data_memory_bytes": LIMIT,
        "inbound_domains": [INBOUND],
        "relay_networks": [f"{RELAY_CLIENT}/32"],
        "relay_account": "acme",
    }
    try:
        server = make_module_server(
            {"smtp": smtp}, nameserver=nameserver_of(dns), smtp_port=sink.controller.port
        )
        token, key = account_with_key(server, dns)
        yield World(server, sink, token, key)
        server.stop()
    finally:
        sink.stop()
        dns.stop()


@pytest.fixture
def quiet(world: World) -> Iterator[World]:
    """The world, checked afterwards to have queued and relayed nothing."""
    logged, delivered = len(world.logged()), len(world.sink.snapshot())
    yield world
    time.sleep(0.3)
    assert len(world.sink.snapshot()) == delivered
    assert len(world.logged()) == logged


def message(body: bytes) -> bytes:
    return b"From: <hello@mail.example.com>\r\nTo: <ada@example.com>\r\nSubject: s\r\n\r\n" + body


@pytest.mark.parametrize("sequence", SMUGGLING)
def test_smuggled_end_of_data_on_submission_is_refused_and_ends_the_session(
    quiet: World, sequence: bytes
) -> None:
    with quiet.submission() as client:
        client.cmd("MAIL FROM:<hello@mail.example.com>")
        client.cmd("RCPT TO:<ada@example.com>")
        assert client.cmd("DATA").code == 354
        client.send(message(b"hi" + sequence + SMUGGLED + message(b"smuggled\r\n") + b".\r\n"))
        refused = client.reply()
        assert 500 <= refused.code < 600 and refused.has_enhanced_code, refused
        if b"\x00" not in sequence:  # a bare CR or LF: we and the client may disagree on
            assert client.closed()  # where the message ended, so the session ends


@pytest.mark.parametrize("sequence", [b"\n.\r\n", b"\r.\r\n", b"\r\n\x00.\r\n"])
def test_smuggled_end_of_data_through_the_trusted_relay_is_refused(
    quiet: World, sequence: bytes
) -> None:
    with RawSmtp(quiet.server.mx_port, source=RELAY_CLIENT) as client:
        client.cmd("EHLO relay.test")
        client.cmd("MAIL FROM:<hello@mail.example.com>")
        assert client.cmd("RCPT TO:<ada@example.com>").code == 250  # relayed: trusted client
        assert client.cmd("DATA").code == 354
        client.send(message(b"hi" + sequence + SMUGGLED + b"x\r\n.\r\n"))
        assert client.reply().code >= 500


def test_pipelined_transactions_are_two_honest_messages(world: World) -> None:
    already = len(world.sink.snapshot())
    with world.submission() as client:
        one = b"MAIL FROM:<hello@mail.example.com>\r\nRCPT TO:<ada@example.com>\r\nDATA\r\n"
        client.send(one + message(b"first\r\n") + b".\r\n" + one + message(b"..second\r\n.\r\n"))
        codes = [client.reply().code for _ in range(8)]
        assert codes == [250, 250, 354, 250, 250, 250, 354, 250]
    received = world.sink.wait_for(already + 2)[already:]
    bodies = sorted(r.data.split(b"\r\n\r\n", 1)[1] for r in received)
    assert bodies == [b".second\r\n", b"first\r\n"]


def test_starttls_does_not_carry_commands_sent_before_the_handshake(quiet: World) -> None:
    with RawSmtp(quiet.server.submission_port) as client:
        client.cmd("EHLO client.test")
        client.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
        assert client.reply().code == 220
        client.sock = (
            __import__("tests.support.raw_smtp")
            .support.raw_smtp.insecure_tls()
            .wrap_socket(client.sock)
        )
        assert client.cmd("MAIL FROM:<a@mail.example.com>").code == 503  # no EHLO after TLS
        client.cmd("EHLO client.test")
        assert client.login(quiet.key).code == 235
        assert client.cmd("RCPT TO:<ada@example.com>").code == 503  # the injected MAIL is gone


@pytest.mark.parametrize(
    ("listener", "expected", "absent"),
    [
        ("submission", {"SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS"}, {"AUTH"}),
        ("mx", {"SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "STARTTLS"}, {"AUTH"}),
    ],
)
def test_ehlo_keywords(world: World, listener: str, expected: set[str], absent: set[str]) -> None:
    port = world.server.submission_port if listener == "submission" else world.server.mx_port
    with RawSmtp(port) as client:
        keywords = {line[4:].split()[0].decode() for line in client.cmd("EHLO c.test").lines[1:]}
        assert expected | {"ENHANCEDSTATUSCODES"} <= keywords and not absent & keywords
        assert f"SIZE {LIMIT}".encode() in client.cmd("EHLO c.test").text
    if listener == "submission":
        with world.submission() as client:
            auth = [line for line in client.cmd("EHLO c.test").lines if b"AUTH" in line]
            assert auth and b"PLAIN" in auth[0] and b"LOGIN" in auth[0]


def test_every_reply_carries_an_enhanced_status_code(quiet: World) -> None:
    with RawSmtp(quiet.server.mx_port) as client:
        assert client.greeting.code == 220
        replies = [client.cmd("MAIL FROM:<a@example.com>")]  # before HELO
        assert client.cmd("HELO c.test").code == 250  # HELO/EHLO lines carry none (RFC 2034)
        replies += [client.cmd(line) for line in (
            "NOOP", "RSET", "VRFY postmaster", "EXPN list", "HELP",
            "FOOBAR", "DATA", "RCPT TO:<postmaster@" + INBOUND + ">",
            "MAIL FROM:<a@example.com> BODY=9BIT", "MAIL FROM:<a@example.com> FOO=1",
            "MAIL FROM:<a@example.com>", "MAIL FROM:<b@example.com>", "DATA extra",
            "AUTH PLAIN AGFwaWtleQBrZXk=", "STARTTLS extra", "QUIT",
        )]  # fmt: skip
        assert [r for r in replies if not r.has_enhanced_code] == []


def test_long_command_and_long_data_line_are_refused(quiet: World) -> None:
    with quiet.submission() as client:
        assert client.cmd("MAIL FROM:<" + "a" * 2000 + "@mail.example.com>").code == 500
        assert client.cmd("MAIL FROM:<hello@mail.example.com>").code == 250
        client.cmd("RCPT TO:<ada@example.com>")
        client.cmd("DATA")
        client.send(message(b"x" * 5000 + b"\r\n.\r\n"))
        refused = client.reply()
        assert refused.code == 500 and refused.text.startswith(b"5.5.2"), refused
        assert client.cmd("NOOP").code == 250  # the session goes on


def test_nul_in_commands_and_data_is_refused(quiet: World) -> None:
    with quiet.submission() as client:
        assert client.cmd(b"MAIL FROM:<hello\x00@mail.example.com>").code == 501
        client.cmd("MAIL FROM:<hello@mail.example.com>")
        assert client.cmd(b"RCPT TO:<ada@example.com>\x00").code == 501
        client.cmd("RCPT TO:<ada@example.com>")
        client.cmd("DATA")
        client.send(message(b"a\x00b\r\n.\r\n"))
        refused = client.reply()
        assert refused.code == 554 and refused.text.startswith(b"5.6.0"), refused


@pytest.mark.parametrize(
    ("size", "code"),
    [(str(LIMIT + 1), 552), ("garbage", 501), ("-1", 501), ("9" * 20, 552), (str(LIMIT), 250)],
)
def test_size_declared_at_mail(quiet: World, size: str, code: int) -> None:
    with quiet.submission() as client:
        reply = client.cmd(f"MAIL FROM:<hello@mail.example.com> SIZE={size}")
        assert reply.code == code and reply.has_enhanced_code, reply


def test_size_exceeded_in_data_is_refused_and_the_bytes_are_not_kept(quiet: World) -> None:
    with quiet.submission() as client:
        client.cmd("MAIL FROM:<hello@mail.example.com>")
        client.cmd("RCPT TO:<ada@example.com>")
        client.cmd("DATA")
        client.send(message(b"x" * 900 + b"\r\n") * (LIMIT // 900 + 1) + b".\r\n")
        refused = client.reply()
        assert refused.code == 552 and refused.text.startswith(b"5.3.4"), refused
        assert client.cmd("NOOP").code == 250


def test_recipients_beyond_the_limit_get_452(quiet: World) -> None:
    with quiet.submission() as client:
        client.cmd("MAIL FROM:<hello@mail.example.com>")
        client.send(b"".join(b"RCPT TO:<r%d@example.com>\r\n" % i for i in range(1001)))
        codes = [client.reply().code for _ in range(1001)]
        assert codes == [250] * 1000 + [452]
        assert client.cmd("RCPT TO:<more@example.com>").text.startswith(b"4.5.3")
        assert client.cmd("RSET").code == 250


@pytest.mark.parametrize(
    "recipient",
    [
        "victim@external.example",
        f"victim%external.example@{INBOUND}",
        f'"victim@external.example"@{INBOUND}',
        f"victim@external.example@{INBOUND}",
        f"@{INBOUND}:victim@external.example",
        f"@{INBOUND},@relay.example:victim@external.example",
        f"external.example!victim@{INBOUND}",
        "victim@[192.0.2.10]",
        "victim@[127.0.0.1]",
        "victim@[IPv6:::1]",
        "victim@external.example.",
        "victim@EXTERNAL.EXAMPLE",
        f"victim@{INBOUND}.external.example",
        "postmaster",
    ],
)
def test_the_mx_is_no_open_relay(quiet: World, recipient: str) -> None:
    with RawSmtp(quiet.server.mx_port) as client:
        client.cmd("EHLO c.test")
        client.cmd("MAIL FROM:<a@example.org>")
        refused = client.cmd(f"RCPT TO:<{recipient}>")
        assert refused.code in (501, 553, 554) and refused.has_enhanced_code, refused
        if refused.code == 554:
            assert refused.text.startswith(b"5.7.1")


@pytest.mark.parametrize("recipient", [f"bounce@{INBOUND}", f"Bounce@{INBOUND.upper()}"])
def test_the_mx_takes_mail_for_its_own_domains(world: World, recipient: str) -> None:
    with RawSmtp(world.server.mx_port) as client:
        client.cmd("EHLO c.test")
        client.cmd("MAIL FROM:<>")
        assert client.cmd(f"RCPT TO:<{recipient}>").code == 250


def test_auth_abuse(quiet: World) -> None:
    plain = base64.b64encode(b"\0apikey\0" + quiet.key.encode()).decode()
    with RawSmtp(quiet.server.submission_port) as client:
        client.cmd("EHLO c.test")
        assert client.cmd(f"AUTH PLAIN {plain}").code in (530, 538)  # not before TLS
        assert client.cmd("MAIL FROM:<hello@mail.example.com>").code == 530
    with RawSmtp(quiet.server.mx_port) as client:
        client.cmd("EHLO c.test")
        assert client.cmd(f"AUTH PLAIN {plain}").code == 502
    with RawSmtp(quiet.server.smtps_port, implicit_tls=True) as client:
        client.cmd("EHLO c.test")
        assert client.cmd("AUTH PLAIN " + "A" * 100_000).code in (500, 501)
        assert client.cmd("AUTH PLAIN not-base64!").code == 501
        assert client.cmd("AUTH PLAIN").code == 334
        assert client.cmd("*").code == 501  # the client cancels
        authzid = base64.b64encode(b"admin\0apikey\0" + quiet.key.encode()).decode()
        assert client.cmd(f"AUTH PLAIN {authzid}").code == 535
        assert client.cmd(f"AUTH PLAIN {plain}").code == 235
        assert client.cmd(f"AUTH PLAIN {plain}").code == 503  # already authenticated


def test_timeouts_close_with_421(make_server: ServerFactory) -> None:
    server = make_server({"smtp": {"command_timeout_seconds": 1.0, "session_timeout_seconds": 3.0}})
    try:
        with RawSmtp(server.mx_port) as idle:
            started = time.monotonic()
            timeout = idle.reply()
            assert timeout.code == 421 and timeout.text.startswith(b"4.4.2")
            assert 0.8 < time.monotonic() - started < 2.5 and idle.closed()
        with RawSmtp(server.mx_port) as busy:
            started = time.monotonic()
            with pytest.raises(ConnectionError):
                for _ in range(20):
                    assert busy.cmd("NOOP").code in (250, 421)
                    time.sleep(0.5)
            assert 2.5 < time.monotonic() - started < 5
    finally:
        server.stop()


@pytest.mark.parametrize("sequence", ["\n.\r\n", "\r.\r", "\r\n.\r\n", "\n.\n"])
def test_api_content_with_smuggling_sequences_leaves_clean_on_the_wire(
    world: World, sequence: str
) -> None:
    already = len(world.sink.snapshot())
    text = f"before{sequence}MAIL FROM:<ceo@mail.example.com>\r\nafter the dot line"
    response = httpx.post(
        f"{world.server.base_url}/v3/mail/send",
        headers={"Authorization": f"Bearer {world.key}"},
        json={
            "personalizations": [{"to": [{"email": "ada@example.com"}]}],
            "from": {"email": "hello@mail.example.com"},
            "subject": "clean",
            "content": [
                {"type": "text/plain", "value": text},
                {"type": "text/html", "value": f"<p>{text}</p>"},
            ],
        },
    )
    assert response.status_code == 202, response.text
    data = world.sink.wait_for(already + 1)[already].data  # as the sink read it off the wire
    assert data.count(b"\n") == data.count(b"\r") == data.count(b"\r\n")
    assert b"after the dot line" in data  # nothing cut short by a dot line


def test_messages_being_received_share_a_memory_budget(world: World) -> None:
    """hostile-input.md 2.4: slow clients each sending a large message must not exhaust
    memory; what the budget cannot hold gets 452 4.3.1 and the holder still succeeds."""
    already = len(world.sink.snapshot())
    # 96 KB each, of a 100 KB budget: the server's stream buffer (64 KB a session) is not
    # counted, so the slow session holds at least 32 KB and the two cannot both fit.
    half = message(b"y" * 998 + b"\r\n") * 90
    with world.submission() as slow, world.submission() as late:
        for client in (slow, late):
            client.cmd("MAIL FROM:<hello@mail.example.com>")
            client.cmd("RCPT TO:<ada@example.com>")
            assert client.cmd("DATA").code == 354
        slow.send(half)
        time.sleep(0.5)  # the server has read it and holds it
        late.send(half + b".\r\n")
        refused = late.reply()
        assert refused.code == 452 and refused.text.startswith(b"4.3.1"), refused
        slow.send(b".\r\n")
        assert slow.reply().code == 250
        late.cmd("MAIL FROM:<hello@mail.example.com>")
        late.cmd("RCPT TO:<bob@example.com>")
        late.cmd("DATA")
        assert late.cmd(half + b".").code == 250  # the budget was given back
    assert len(world.sink.wait_for(already + 2)) == already + 2


BOMBS = {  # hostile-input.md 2.4: header and MIME bombs, each within the size limit
    "15k headers": b"X: y\r\n" * 15_000 + b"\r\nbody\r\n",
    "one 90 KB folded header": b"X-Long: " + b"a\r\n " * 30_000 + b"b\r\n\r\nbody\r\n",
    "1000 nested multiparts": b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
    + b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(1000)
    )
    + b"x\r\n",
    "2000 parts": b"Content-Type: multipart/mixed; boundary=p\r\n\r\n"
    + b"--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 2000
    + b"--p--\r\n",
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_header_and_mime_bombs_are_answered_promptly(world: World, bomb: str) -> None:
    head = b"From: <hello@mail.example.com>\r\nTo: <ada@example.com>\r\nSubject: bomb\r\n"
    for port, sender, recipient in (
        (world.server.submission_port, "hello@mail.example.com", "ada@example.com"),
        (world.server.mx_port, "", f"postmaster@{INBOUND}"),
    ):
        client = world.submission() if port == world.server.submission_port else RawSmtp(port)
        with client:
            if port == world.server.mx_port:
                client.cmd("EHLO c.test")
            client.cmd(f"MAIL FROM:<{sender}>")
            assert client.cmd(f"RCPT TO:<{recipient}>").code == 250
            client.cmd("DATA")
            started = time.monotonic()
            client.send(head + BOMBS[bomb] + b".\r\n")
            answer = client.reply()
            assert answer.code in (250, 550, 552, 554), answer  # never 451: no internal error
            assert time.monotonic() - started < 10, "a bomb must not stall the server"
            assert client.cmd("NOOP").code == 250


def test_the_mail_line_limit_does_not_creep_with_many_ehlos(quiet: World) -> None:
    """aiosmtpd grows a class-wide MAIL length limit at every EHLO; ours stays per session."""
    for _ in range(30):
        with RawSmtp(quiet.server.mx_port) as client:
            client.cmd("EHLO a.test")
            client.cmd("EHLO a.test")
    with RawSmtp(quiet.server.mx_port) as client:
        client.cmd("EHLO a.test")
        reply = client.cmd("MAIL FROM:<" + "a" * 600 + "@example.org>")
        assert reply.code == 500 and reply.text.startswith(b"5.5.2"), reply


def test_an_early_talker_is_answered_in_order(quiet: World) -> None:
    """hostile-input.md 2.7: commands sent before the greeting are served after it, in order."""
    with socket.create_connection(("127.0.0.1", quiet.server.mx_port), timeout=10) as raw:
        raw.sendall(b"EHLO early.test\r\nNOOP\r\nQUIT\r\n")
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    codes = [line[:4] for line in received.split(b"\r\n") if line[3:4] == b" "]
    assert codes == [b"220 ", b"250 ", b"250 ", b"221 "]
