"""SMTP submission over real sockets: STARTTLS and implicit TLS, AUTH with API keys, DATA
handed to a fake intake, and how intake errors become SMTP replies.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator

import aiosmtplib
import pytest

from mta.core.errors import PayloadTooLarge, PermissionDenied, StorageUnavailable, ValidationError
from tests.unit.mta.listeners.support import (
    GOOD_KEY,
    HOSTNAME,
    READ_ONLY_KEY,
    SENDER,
    Ingress,
    client,
    make_tls,
    running_ingress,
)

MESSAGE = (
    b"From: app@sender.example\r\n"
    b"To: bob@example.net\r\n"
    b"Subject: hello\r\n"
    b"\r\n"
    b".a line starting with a dot\r\n"
    b"caf\xc3\xa9 8-bit body\r\n"
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def ingress(tls: ssl.SSLContext) -> AsyncIterator[Ingress]:
    async with running_ingress(tls, max_message_bytes=4096) as running:
        yield running


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def send(smtp: aiosmtplib.SMTP) -> aiosmtplib.SMTPResponse:
    await smtp.mail("app@sender.example")
    await smtp.rcpt("bob@example.net")
    await smtp.rcpt("carol@example.org")
    return await smtp.data(MESSAGE)


async def test_greeting_and_ehlo_use_the_configured_hostname(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=False) as smtp:
        ehlo = await smtp.ehlo()
        assert ehlo.message.splitlines()[0] == HOSTNAME
        assert smtp.supports_extension("starttls")
        assert not smtp.supports_extension("auth")  # not before TLS


async def test_auth_refused_before_starttls(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=False) as smtp:
        response = await smtp.execute_command(
            b"AUTH", b"PLAIN", b64(f"\0apikey\0{GOOD_KEY}").encode()
        )
        assert response.code == 530
        mail = await smtp.execute_command(b"MAIL", b"FROM:<app@sender.example>")
        assert mail.code == 530
    assert ingress.keys.seen == []


async def test_starttls_auth_plain_then_send(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        assert smtp.supports_extension("auth")
        auth = await smtp.auth_plain("apikey", GOOD_KEY)
        assert (auth.code, auth.message) == (235, "2.7.0 Authentication successful")
        reply = await send(smtp)
    assert (reply.code, reply.message) == (250, "2.0.0 Ok: queued as msg-0001")
    assert ingress.intake.calls == [
        (SENDER, "app@sender.example", ["bob@example.net", "carol@example.org"], MESSAGE)
    ]


async def test_auth_login_with_initial_response(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        auth = await smtp.auth_login("apikey", GOOD_KEY)
        assert auth.code == 235
        assert (await send(smtp)).code == 250


async def test_auth_login_with_challenges(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        first = await smtp.execute_command(b"AUTH", b"LOGIN")
        assert (first.code, base64.b64decode(first.message)) == (334, b"Username:")
        second = await smtp.execute_command(b64("apikey").encode())
        assert (second.code, base64.b64decode(second.message)) == (334, b"Password:")
        done = await smtp.execute_command(b64(GOOD_KEY).encode())
        assert done.code == 235


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("apikey", "SG.wrong"),  # unknown key
        ("someone", GOOD_KEY),  # user name must be apikey
        ("apikey", READ_ONLY_KEY),  # key without mail.send
    ],
)
async def test_auth_failures_look_identical(ingress: Ingress, username: str, password: str) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        for method in (smtp.auth_plain, smtp.auth_login):
            with pytest.raises(aiosmtplib.SMTPAuthenticationError) as failure:
                await method(username, password)
            assert (failure.value.code, failure.value.message) == (
                535,
                "5.7.8 Authentication credentials invalid",
            )


async def test_malformed_plain_credentials_are_refused(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        response = await smtp.execute_command(b"AUTH", b"PLAIN", b64("apikey").encode())
        assert response.code == 535
        response = await smtp.execute_command(b"AUTH", b"PLAIN", b"not base64!")
        assert response.code == 501


async def test_mail_before_auth_is_refused(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        response = await smtp.execute_command(b"MAIL", b"FROM:<app@sender.example>")
        assert (response.code, response.message) == (530, "5.7.0 Authentication required")
    assert ingress.intake.calls == []


async def test_implicit_tls_auth_and_send(ingress: Ingress) -> None:
    async with client(ingress.smtps_port, use_tls=True) as smtp:
        assert smtp.supports_extension("auth")
        assert not smtp.supports_extension("starttls")
        assert (await smtp.auth_plain("apikey", GOOD_KEY)).code == 235
        reply = await send(smtp)
    assert reply.code == 250
    assert ingress.intake.calls[0][3] == MESSAGE


@pytest.mark.parametrize("implicit", [True, False])
async def test_the_session_trace_names_client_tls_and_auth(
    ingress: Ingress, implicit: bool
) -> None:
    port = ingress.smtps_port if implicit else ingress.submission_port
    options = {"use_tls": True} if implicit else {"start_tls": True}
    async with client(port, **options) as smtp:
        await smtp.auth_plain("apikey", GOOD_KEY)
        assert (await send(smtp)).code == 250
    [trace] = ingress.intake.traces
    assert (trace.helo, trace.client_ip, trace.hostname) == (
        "client.test.example",
        "127.0.0.1",
        HOSTNAME,
    )
    assert trace.esmtp and trace.authenticated
    assert trace.tls_version.startswith("TLSv1.")
    assert trace.tls_cipher and trace.tls_bits >= 128


async def test_implicit_tls_still_requires_auth(ingress: Ingress) -> None:
    async with client(ingress.smtps_port, use_tls=True) as smtp:
        response = await smtp.execute_command(b"MAIL", b"FROM:<app@sender.example>")
        assert response.code == 530
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as failure:
            await smtp.auth_login("apikey", "SG.wrong")
        assert failure.value.code == 535


async def test_implicit_tls_port_refuses_plaintext(ingress: Ingress) -> None:
    with pytest.raises(aiosmtplib.SMTPException):
        async with client(ingress.smtps_port, start_tls=False, timeout=0.3):
            pass


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (PermissionDenied("sender domain not verified"), 550, "5.7.1 sender domain not verified"),
        (StorageUnavailable("spool full"), 451, "4.3.0 spool full"),
        (ValidationError("bad header\r\nX-Injected: 1"), 550, "5.6.0 bad header X-Injected: 1"),
        (PayloadTooLarge("message too large"), 552, "5.3.4 message too large"),
    ],
)
async def test_intake_errors_become_smtp_replies(
    ingress: Ingress, error: Exception, code: int, message: str
) -> None:
    ingress.intake.error = error
    async with client(ingress.submission_port, start_tls=True) as smtp:
        await smtp.auth_plain("apikey", GOOD_KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as failure:
            await send(smtp)
        assert (failure.value.code, failure.value.message) == (code, message)


async def test_unexpected_intake_exception_does_not_leak(
    ingress: Ingress, caplog: pytest.LogCaptureFixture
) -> None:
    ingress.intake.error = RuntimeError("db password is hunter2")
    async with client(ingress.submission_port, start_tls=True) as smtp:
        await smtp.auth_plain("apikey", GOOD_KEY)
        with pytest.raises(aiosmtplib.SMTPDataError) as failure:
            await send(smtp)
    assert failure.value.code == 451
    assert failure.value.message.startswith("4.3.0 Internal error, try again later (session ")
    assert "hunter2" not in failure.value.message
    session = failure.value.message.rsplit(" ", 1)[1].rstrip(")")
    assert any(session in record.getMessage() for record in caplog.records)


async def test_password_never_logged(ingress: Ingress, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    async with client(ingress.submission_port, start_tls=True) as smtp:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await smtp.auth_plain("apikey", "SG.secret-attempt")
        await smtp.auth_login("apikey", GOOD_KEY)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "SG.secret-attempt" not in logged
    assert GOOD_KEY not in logged
    assert b64(GOOD_KEY) not in logged
    assert b64("\0apikey\0SG.secret-attempt") not in logged


async def test_message_over_the_size_limit(ingress: Ingress) -> None:
    async with client(ingress.submission_port, start_tls=True) as smtp:
        await smtp.auth_plain("apikey", GOOD_KEY)
        await smtp.mail("app@sender.example")
        await smtp.rcpt("bob@example.net")
        with pytest.raises(aiosmtplib.SMTPDataError) as failure:
            await smtp.data(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 100)
        assert failure.value.code == 552
    assert ingress.intake.calls == []
