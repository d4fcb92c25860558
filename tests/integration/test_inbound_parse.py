"""Inbound Parse end to end: mail to a parse hostname over the real MX is stored before 250
and posted as SendGrid's form to a receiver that reads it with SendGrid's own helper; a
failing receiver is retried, a SIGKILL loses nothing, mail for no parse host is refused, and
spam_check posts a real spamd's score."""

from __future__ import annotations

import base64
import contextlib
import json
import smtplib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.api import admin, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.parse_receiver import ParseReceiver
from tests.support.server import ScaisendServer, free_port

PATH = "/v3/user/webhooks/parse/settings"
SPAMD = Path("/usr/sbin/spamd")
TO = "reply+42@parse.acme.example"
# retried every second; a post in flight at a kill is someone's for 5 + 15 s (its lease)
FAST_RETRIES = {
    "inbound": {"parse_retry_schedule_seconds": [1]},
    "webhooks": {"timeout_seconds": 5, "allow_private_targets": True},
}


@pytest.fixture
def receiver() -> Iterator[ParseReceiver]:
    made = ParseReceiver(statuses=[503, 500])  # the first two posts fail
    yield made
    made.stop()


def parse_host(server: ScaisendServer, dns: DnsServer, url: str, send_raw: bool = False) -> None:
    token = server.token("acme")
    set_up_account(server, dns, token, name="acme.example")
    body = {"hostname": "parse.acme.example", "url": url, "send_raw": send_raw}
    made = admin(server, token, "POST", PATH, body)
    assert made.status_code == 201, made.text


def mail(subject: str, text: str = "Thanks, that fixed it.\n") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ada <ada@sender.example>"
    message["To"] = "reply+42@parse.acme.example"
    message["Subject"] = subject
    message.set_content(text)
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="rows.csv")
    return message


def send(
    server: ScaisendServer, message: EmailMessage, to: str = "reply+42@parse.acme.example"
) -> None:
    with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as mx:
        mx.send_message(message, from_addr="ada@sender.example", to_addrs=[to])


def test_mail_to_a_parse_host_is_posted_as_sendgrid_posts_it(
    make_server: Callable[..., ScaisendServer], dns_server: DnsServer, receiver: ParseReceiver
) -> None:
    server = make_server(FAST_RETRIES)
    parse_host(server, dns_server, receiver.url)
    dns_server.add("sender.example", "TXT", '"v=spf1 ip4:127.0.0.0/8 -all"')
    send(server, mail("Ticket 42"))
    (post,) = receiver.wait_for(1)
    assert receiver.refused == 2  # retried after a 503 and a 500
    assert post["subject"] == "Ticket 42" and post["from"] == "Ada <ada@sender.example>"
    assert post["to"] == "reply+42@parse.acme.example"
    assert post["text"].strip() == "Thanks, that fixed it."
    assert json.loads(post["envelope"]) == {
        "to": ["reply+42@parse.acme.example"],
        "from": "ada@sender.example",
    }
    assert post["sender_ip"] == "127.0.0.1" and post["SPF"] == "pass"
    assert post["dkim"] == "none" and post["dmarc"] == "none"  # unsigned, no DMARC record
    assert post["attachments"] == "1"
    assert json.loads(post["attachment-info"])["attachment1"]["filename"] == "rows.csv"
    (csv,) = post["_files"]
    assert base64.b64decode(csv["contents"]) == b"a,b\n1,2\n"
    log = admin(server, server.token("acme"), "GET", "/v3/user/webhooks/parse/messages").json()
    (entry,) = log["result"]
    assert entry["status"] == "delivered" and entry["attempts"] == 3
    assert entry["last_status"] == 200
    today = datetime.now(UTC).date().isoformat()
    stats_path = f"/v3/user/webhooks/parse/stats?start_date={today}"
    stats = admin(server, server.token("acme"), "GET", stats_path).json()
    assert [day["stats"][0]["metrics"]["received"] for day in stats] == [1]
    other = server.token("globex")  # another account sees none of it
    theirs = admin(server, other, "GET", stats_path).json()
    assert [day["stats"][0]["metrics"]["received"] for day in theirs] == [0]
    assert admin(server, other, "GET", "/v3/user/webhooks/parse/messages").json() == {"result": []}
    again = f"/v3/user/webhooks/parse/messages/{entry['id']}/redeliver"
    assert admin(server, other, "POST", again).status_code == 404
    assert admin(server, server.token("acme"), "POST", again).status_code == 202
    assert [p["subject"] for p in receiver.wait_for(2)] == ["Ticket 42", "Ticket 42"]


def test_unknown_hosts_are_refused_for_good(
    make_server: Callable[..., ScaisendServer], dns_server: DnsServer, receiver: ParseReceiver
) -> None:
    server = make_server(FAST_RETRIES)
    parse_host(server, dns_server, receiver.url)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(server, mail("nobody"), to="x@nowhere.acme.example")
    ((code, _),) = refused.value.recipients.values()
    assert 500 <= code < 600


def test_a_sigkill_after_250_loses_nothing(
    make_server: Callable[..., ScaisendServer], dns_server: DnsServer
) -> None:
    down = ParseReceiver(statuses=[503] * 1000)  # refuses everything until replaced
    server = make_server(FAST_RETRIES)
    parse_host(server, dns_server, down.url)
    for index in range(5):
        send(server, mail(f"kept {index}"))
    server.kill()
    down.stop()
    up = ParseReceiver()
    try:
        token = server.token("acme")
        server.start()
        changed = admin(server, token, "PATCH", f"{PATH}/parse.acme.example", {"url": up.url})
        assert changed.status_code == 200, changed.text
        posts = up.wait_for(5, seconds=90)  # one may wait out its lease (20 s)
        assert sorted(p["subject"] for p in posts) == [f"kept {i}" for i in range(5)]
    finally:
        up.stop()


GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


@pytest.fixture
def spamd(tmp_path: Path) -> Iterator[str]:
    """A real SpamAssassin spamd on loopback, local tests only (-L: no network look-ups)."""
    if not SPAMD.exists():
        pytest.skip("spamd is not installed (apt-get install spamd; .ci/run does)")
    port = free_port()
    process = subprocess.Popen(
        [str(SPAMD), "-L", "-i", "127.0.0.1", "-p", str(port), "-u", "nobody",
         "--max-children", "1", "--syslog", "stderr", "--pidfile", str(tmp_path / "spamd.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("spamd did not start")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_spam_check_posts_spamds_score(
    make_server: Callable[..., ScaisendServer],
    dns_server: DnsServer,
    receiver: ParseReceiver,
    spamd: str,
) -> None:
    server = make_server({**FAST_RETRIES, "inbound": {**FAST_RETRIES["inbound"], "spamd": spamd}})
    token = server.token("acme")
    set_up_account(server, dns_server, token, name="acme.example")
    body = {"hostname": "parse.acme.example", "url": receiver.url, "spam_check": True}
    assert admin(server, token, "POST", PATH, body).status_code == 201
    send(server, mail("Buy now", f"Hello {GTUBE}\n"))
    (post,) = receiver.wait_for(1, seconds=60)
    assert float(post["spam_score"]) >= 1000 and "GTUBE" in post["spam_report"]
