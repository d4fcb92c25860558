"""X-SMTPAPI `filters` over SMTP submission, end to end: click, open and subscription tracking
and the footer reach the MX sink in the signed mail (one copy per recipient when links name
them), also through the trusted relay; bypass_list_management delivers to a suppressed
address, an enabled unknown filter is refused with nothing queued, and disabled filters leave
the mail as it was sent."""

from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
from email.message import EmailMessage
from typing import Any

import dkim
import httpx
import pytest

from tests.support.api import (
    account_with_key,
    admin,
    dkim_dns,
    events_until,
    of_type,
    wait_for_status,
)
from tests.support.dns_server import DnsServer
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

TARGET = "https://shop.example.org/item?id=7"
TEXT = f"Hello, see {TARGET} today.\n"
HTML = f'<html><body><p>Hello</p><a href="{TARGET}">Buy</a></body></html>\n'


def mail(to: list[str], smtpapi: dict[str, Any] | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Acme <hello@mail.example.com>"
    message["To"] = ", ".join(to)
    message["Subject"] = "Filtered"
    if smtpapi is not None:
        message["X-SMTPAPI"] = json.dumps(smtpapi)
    message.set_content(TEXT)
    message.add_alternative(HTML, subtype="html")
    return message


def submit(server: ScaisendServer, key: str, message: EmailMessage, to: list[str]) -> bytes:
    """The message as sent (its MIME boundary is chosen when it is first written)."""
    raw = message.as_bytes(policy=email.policy.SMTP)
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
        client.starttls(context=insecure_tls())
        client.login("apikey", key)
        client.sendmail("hello@mail.example.com", to, raw)
    return raw


def on(**settings: Any) -> dict[str, Any]:
    return {"settings": {"enable": 1, **settings}}


def parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def bodies(data: bytes) -> tuple[str, str]:
    message = parsed(data)
    text, markup = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and markup is not None
    return tuple(str(part.get_content()).replace("\r\n", "\n") for part in (text, markup))


def message_id_of(data: bytes) -> str:
    return data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()


def test_tracking_filters_rewrite_the_mail_of_each_recipient(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    filters = {
        "clicktrack": on(enable_text=1),
        "opentrack": on(),
        "subscriptiontrack": on(**{"text/plain": "Leave: <% %>", "text/html": "<% Leave %>"}),
    }
    to = ["ada@example.com", "bob@example.com"]
    submit(scaisend, key, mail(to, {"filters": filters, "category": "spring"}), to)

    received = {m.rcpt_tos[0]: m.data for m in sink.wait_for(2)}
    assert set(received) == set(to)  # one copy each: every link names its recipient
    base = re.escape(scaisend.base_url)
    clicks: dict[str, str] = {}
    for rcpt, data in received.items():
        assert dkim.verify(data, dnsfunc=dkim_dns(dns_server))  # tracked, then signed
        text, markup = bodies(data)
        assert TARGET not in text + markup
        (clicks[rcpt],) = re.findall(rf'<a href="({base}/ls/click\?upn=[\w-]+)">Buy</a>', markup)
        assert re.search(rf"see {base}/ls/click\?upn=[\w-]+ today", text)
        assert re.search(rf'<img src="{base}/wf/open\?upn=[\w-]+"', markup)
        assert re.search(rf'<a href="{base}/wf/unsubscribe\?upn=[\w-]+">Leave</a>', markup)
        assert re.search(rf"Leave: {base}/wf/unsubscribe\?upn=[\w-]+", text)
        headers = parsed(data)
        assert "/wf/unsubscribe?upn=" in str(headers["List-Unsubscribe"])
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    message_id = message_id_of(received["bob@example.com"])
    assert message_id_of(received["ada@example.com"]) == message_id

    with httpx.Client(follow_redirects=False, timeout=10) as client:
        hop = client.get(clicks["bob@example.com"])
    assert hop.status_code == 302 and hop.headers["location"] == TARGET
    events = events_until(scaisend, token, message_id, lambda ev: bool(of_type(ev, "click")))
    assert [(e["email"], e["data"]["url"]) for e in of_type(events, "click")] == [
        ("bob@example.com", TARGET)
    ]
    assert sorted(e["email"] for e in of_type(events, "processed")) == to


def test_the_footer_filter_and_disabled_filters(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    off = {"settings": {"enable": 0}}
    disabled = {
        name: off for name in ("clicktrack", "opentrack", "subscriptiontrack", "footer", "nope")
    }
    sent = submit(
        scaisend, key, mail(["ada@example.com"], {"filters": disabled}), ["ada@example.com"]
    )
    [plain] = sink.wait_for(1)
    assert bodies(plain.data) == (TEXT, HTML)
    assert "List-Unsubscribe" not in parsed(plain.data)
    assert plain.data.endswith(sent.partition(b"\r\n\r\n")[2])  # the body, byte for byte

    footer = on(**{"text/plain": "-- Acme, caf\u00e9", "text/html": "<p>Acme</p>"})
    submit(
        scaisend,
        key,
        mail(["bob@example.com"], {"filters": {"footer": footer}}),
        ["bob@example.com"],
    )
    [_, footed] = sink.wait_for(2)
    assert dkim.verify(footed.data, dnsfunc=dkim_dns(dns_server))
    assert bodies(footed.data) == (
        f"{TEXT}\n\n-- Acme, caf\u00e9\n",
        HTML.replace("</body>", "<p>Acme</p></body>"),
    )


def test_bypass_list_management_delivers_to_a_suppressed_address(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    unsub = "unsub@example.com"
    added = admin(
        scaisend, token, "POST", "/v3/asm/suppressions/global", {"recipient_emails": [unsub]}
    )
    assert added.status_code == 201, added.text
    submit(scaisend, key, mail([unsub], {"category": "plain"}), [unsub])
    bypass = {"filters": {"bypass_list_management": on()}, "category": "bypass"}
    submit(scaisend, key, mail([unsub], bypass), [unsub])

    [delivered] = sink.wait_for(1)
    assert delivered.rcpt_tos == [unsub]
    logged = wait_for_status(scaisend, key, message_id_of(delivered.data), "delivered")
    assert logged["categories"] == ["bypass"]
    listed = admin(scaisend, token, "GET", "/v3/messages?page_size=10").json()["messages"]
    dropped = [m for m in listed if m["msg_id"] != logged["msg_id"]]
    assert len(dropped) == 1
    wait_for_status(scaisend, key, dropped[0]["msg_id"], "dropped")
    assert len(sink.snapshot()) == 1


@pytest.mark.parametrize(
    ("filters", "named"),
    [
        ({"nope": {"settings": {"enable": 1}}}, b"unknown filter `nope`"),
        ({"clicktrack": {"settings": {"enable": 2}}}, b"filters.clicktrack.settings.enable"),
    ],
)
def test_an_enabled_unknown_or_malformed_filter_is_refused(
    scaisend: ScaisendServer,
    dns_server: DnsServer,
    sink: SmtpSink,
    filters: dict[str, Any],
    named: bytes,
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        submit(scaisend, key, mail(["ada@example.com"], {"filters": filters}), ["ada@example.com"])
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.6.0 Invalid X-SMTPAPI header: ")
    assert named in refused.value.smtp_error
    # Nothing was queued: a good message sent afterwards is the only one logged and delivered.
    submit(scaisend, key, mail(["bob@example.com"], {}), ["bob@example.com"])
    [delivered] = sink.wait_for(1)
    wait_for_status(scaisend, key, message_id_of(delivered.data), "delivered")
    listed = admin(scaisend, token, "GET", "/v3/messages?page_size=10").json()["messages"]
    assert [m["to_emails"] for m in listed] == [["bob@example.com"]]
    assert [m.rcpt_tos for m in sink.snapshot()] == [["bob@example.com"]]


def test_the_trusted_relay_applies_filters_to_unsigned_mail(
    relay_server: ScaisendServer, sink: SmtpSink
) -> None:
    to = ["ada@example.com", "bob@example.com"]
    message = mail(to, {"filters": {"clicktrack": on(), "footer": on(**{"text/plain": "Acme"})}})
    message.replace_header("From", "app@other.example.org")
    with smtplib.SMTP("127.0.0.1", relay_server.mx_port, timeout=30) as client:
        client.sendmail("app@other.example.org", to, message.as_bytes(policy=email.policy.SMTP))
    received = {m.rcpt_tos[0]: m for m in sink.wait_for(2)}
    assert set(received) == set(to)
    for copy in received.values():
        assert copy.mail_from == "app@other.example.org"
        assert b"DKIM-Signature" not in copy.data
        text, markup = bodies(copy.data)
        assert text == f"{TEXT}\n\nAcme\n"
        assert f"{relay_server.base_url}/ls/click?upn=" in markup and TARGET not in markup
