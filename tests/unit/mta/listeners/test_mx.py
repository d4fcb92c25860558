"""The inbound MX listener over real sockets: only our domains as recipients, no relaying or
routing tricks, no AUTH, STARTTLS offered, DATA handed to a fake inbound processor.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiosmtplib
import pytest

from mta.listeners.mx import has_source_route, plain_domain
from tests.unit.mta.listeners.support import Ingress, client, make_tls, running_ingress

DSN = b"From: MAILER-DAEMON@remote.example\r\nSubject: Undelivered\r\n\r\nbounce\r\n"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def ingress(tls: ssl.SSLContext) -> AsyncIterator[Ingress]:
    async with running_ingress(tls) as running:
        yield running


async def rcpt_code(smtp: aiosmtplib.SMTP, path: str) -> tuple[int, str]:
    response = await smtp.execute_command(b"RCPT", f"TO:{path}".encode())
    return response.code, response.message


async def test_bounce_to_accepted_domain_is_received(ingress: Ingress) -> None:
    async with client(ingress.mx_port, start_tls=False) as smtp:
        assert (await smtp.execute_command(b"MAIL", b"FROM:<>")).code == 250
        assert await rcpt_code(smtp, "<bounces+abc@Accepted.Example>") == (250, "2.1.5 Ok")
        reply = await smtp.data(DSN)
    assert (reply.code, reply.message) == (250, "2.0.0 Ok")
    assert ingress.inbound.asked == ["accepted.example"]
    assert ingress.inbound.received == [("", ["bounces+abc@Accepted.Example"], DSN)]


async def test_relay_to_another_domain_is_denied(ingress: Ingress) -> None:
    async with client(ingress.mx_port, start_tls=False) as smtp:
        await smtp.mail("sender@remote.example")
        assert await rcpt_code(smtp, "<user@Other.Example>") == (554, "5.7.1 Relay access denied")
        with pytest.raises(aiosmtplib.SMTPResponseException) as failure:
            await smtp.data(DSN)
        assert failure.value.code == 503  # no accepted recipient
    assert ingress.inbound.asked == ["other.example"]
    assert ingress.inbound.received == []


@pytest.mark.parametrize(
    "path",
    [
        "<user%other.example@accepted.example>",
        "<user!other.example@accepted.example>",
        "<@accepted.example:user@other.example>",
        "<@other.example:user@accepted.example>",
        "<user@[127.0.0.1]>",
        '<"user@other.example"@accepted.example>',
    ],
)
async def test_routing_tricks_are_denied(ingress: Ingress, path: str) -> None:
    async with client(ingress.mx_port, start_tls=False) as smtp:
        await smtp.mail("sender@remote.example")
        assert await rcpt_code(smtp, path) == (554, "5.7.1 Relay access denied")
    assert ingress.inbound.asked == []
    assert ingress.inbound.received == []


async def test_no_auth_before_or_after_starttls(ingress: Ingress) -> None:
    async with client(ingress.mx_port, start_tls=False) as smtp:
        assert smtp.supports_extension("starttls")
        assert not smtp.supports_extension("auth")
        await smtp.starttls()
        await smtp.ehlo()
        assert not smtp.supports_extension("auth")
        response = await smtp.execute_command(b"AUTH", b"PLAIN", b"AGFwaWtleQBrZXk=")
        assert response.code == 502
        await smtp.mail("sender@remote.example")
        assert (await rcpt_code(smtp, "<postmaster@accepted.example>"))[0] == 250


async def test_inbound_failure_is_a_temporary_error(ingress: Ingress) -> None:
    async def broken(mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        raise OSError("disk on fire")

    ingress.inbound.receive = broken  # type: ignore[method-assign]
    async with client(ingress.mx_port, start_tls=False) as smtp:
        await smtp.mail("sender@remote.example")
        await smtp.rcpt("fbl@accepted.example")
        with pytest.raises(aiosmtplib.SMTPDataError) as failure:
            await smtp.data(DSN)
    assert failure.value.code == 451
    assert "disk on fire" not in failure.value.message


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("user@example.com", "example.com"),
        ("User@EXAMPLE.com.", "example.com"),
        ('"odd local"@example.com', "example.com"),
        ("user@sub-1.example.com", "sub-1.example.com"),
        ("user%other@example.com", None),
        ("other!user@example.com", None),
        ('"a@b"@example.com', None),
        ("user@[192.0.2.1]", None),
        ("user@[IPv6:2001:db8::1]", None),
        ("user@-bad.example", None),
        ("user@bad_host.example", None),
        ("user@", None),
        ("@example.com", None),
        ("user", None),
    ],
)
def test_plain_domain(address: str, domain: str | None) -> None:
    assert plain_domain(address) == domain


@pytest.mark.parametrize(
    ("arg", "routed"),
    [
        ("TO:<@a.example,@b.example:user@c.example>", True),
        ("TO: <@a.example:user@c.example>", True),
        ("TO:<user@c.example>", False),
        ("TO:user@c.example", False),
    ],
)
def test_has_source_route(arg: str, routed: bool) -> None:
    assert has_source_route(arg) is routed
