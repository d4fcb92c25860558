"""Interoperability with swaks, a third-party SMTP client: submission on 587 (STARTTLS) and
465 (implicit TLS) with AUTH LOGIN and PLAIN as `apikey` reaches the MX; a bad key gets 535."""

from __future__ import annotations

import re
import shutil
import subprocess

import dkim
import httpx
import pytest

from tests.support.api import account_with_key, dkim_dns, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

pytestmark = pytest.mark.skipif(
    shutil.which("swaks") is None,
    reason="swaks is not installed (apt-get install swaks; .ci/run installs it)",
)


def swaks(
    port: int, *options: str, password: str, subject: str
) -> subprocess.CompletedProcess[str]:
    """One swaks transaction from a verified sender to ada@example.com, as user `apikey`."""
    command = [
        "swaks",
        *("--server", "127.0.0.1", "--port", str(port), "--ehlo", "client.test"),
        *("--from", "hello@mail.example.com", "--to", "ada@example.com"),
        *("--auth-user", "apikey", "--auth-password", password),
        *("--header", f"Subject: {subject}", "--body", f"Sent by swaks: {subject}\n"),
        *("--timeout", "30"),
        *options,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


CASES = [
    ("587 STARTTLS AUTH LOGIN", "submission_port", ("--tls", "--auth", "LOGIN")),
    ("587 STARTTLS AUTH PLAIN", "submission_port", ("--tls", "--auth", "PLAIN")),
    ("465 TLS AUTH PLAIN", "smtps_port", ("--tlsc", "--auth", "PLAIN")),
    ("465 TLS AUTH LOGIN", "smtps_port", ("--tlsc", "--auth", "LOGIN")),
]


def test_swaks_submits_on_both_ports_with_login_and_plain(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    for subject, port_name, options in CASES:
        result = swaks(getattr(scaisend, port_name), *options, password=key, subject=subject)
        assert result.returncode == 0, result.stdout + result.stderr
        assert re.search(r"^ ~> \.\n<~  250 ", result.stdout, re.MULTILINE), result.stdout
    received = sink.wait_for(len(CASES))
    by_subject = {m.data.split(b"Subject: ")[1].split(b"\r\n")[0].decode(): m for m in received}
    assert set(by_subject) == {subject for subject, _, _ in CASES}
    for subject, message in by_subject.items():
        assert message.rcpt_tos == ["ada@example.com"]
        assert message.mail_from.endswith("@bounces.mail.example.com")
        assert f"Sent by swaks: {subject}".encode() in message.data
        assert dkim.verify(message.data, dnsfunc=dkim_dns(dns_server))
        message_id = message.data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0]
        assert wait_for_status(scaisend, key, message_id.decode(), "delivered")["subject"] == (
            subject
        )


@pytest.mark.parametrize(
    ("port_name", "tls"), [("submission_port", "--tls"), ("smtps_port", "--tlsc")]
)
def test_swaks_with_a_wrong_password_gets_535_and_nothing_is_sent(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, port_name: str, tls: str
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    port = getattr(scaisend, port_name)
    for mechanism in ("LOGIN", "PLAIN"):
        refused = swaks(port, tls, "--auth", mechanism, password=key + "x", subject="refused")
        assert refused.returncode == 28, refused.stdout + refused.stderr  # error in AUTH
        assert re.search(r"^<~?\* +535 5\.7\.8 ", refused.stdout, re.MULTILINE), refused.stdout
        assert "MAIL FROM" not in refused.stdout
    listed = httpx.get(
        f"{scaisend.base_url}/v3/messages",
        params={"page_size": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert listed == {"messages": []}
    # A good run afterwards is the only mail that reaches the MX.
    accepted = swaks(port, tls, "--auth", "PLAIN", password=key, subject="accepted")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    (received,) = sink.wait_for(1)
    assert b"Subject: accepted\r\n" in received.data
    assert [b"Subject: refused" in m.data for m in sink.snapshot()] == [False]
