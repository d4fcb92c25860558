"""`POST /v3/mail/send` end to end with a real server: text, html, an attachment and an inline
image reach the MX sink DKIM-signed and well formed; sandbox mode answers 200 and delivers
nothing; every header-injection attempt is a 400 naming its field, and nothing is queued."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from email.message import EmailMessage
from typing import Any

import dkim
import httpx
import pytest

from tests.support.api import account_with_key, dkim_dns, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import Received, SmtpSink

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 64
LONG_LINE = "\u00e9" * 2500 + "x" * 5000


def _post(server: ScaisendServer, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/v3/mail/send",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [
            {
                "to": [{"email": "ada@example.com", "name": "Ada L\u00f6velace"}],
                "cc": [{"email": "carol@example.com"}],
                "bcc": [{"email": "bob@example.com"}],
                "substitutions": {"-name-": "Ada"},
                "headers": {"X-Personal": "yes"},
            }
        ],
        "from": {"email": "hello@mail.example.com", "name": "Acme"},
        "reply_to": {"email": "support@mail.example.com"},
        "subject": "Gr\u00fc\u00dfe, -name-",
        "content": [
            {"type": "text/plain", "value": f"Hello -name-\n{LONG_LINE}"},
            {"type": "text/html", "value": '<p>Hello -name- <img src="cid:logo"></p>'},
        ],
        "attachments": [
            {
                "content": base64.b64encode(PNG).decode(),
                "filename": "logo.png",
                "type": "image/png",
                "disposition": "inline",
                "content_id": "logo",
            },
            {
                "content": base64.b64encode(PDF).decode(),
                "filename": "Rechnung f\u00fcr Ada.pdf",
                "type": "application/pdf",
            },
        ],
        "headers": {"X-Campaign": "spring"},
        "categories": ["welcome"],
        "custom_args": {"order": "42"},
        "tracking_settings": {"click_tracking": {"enable": True}},
        "mail_settings": {"footer": {"enable": True, "text": "-- Acme", "html": "<p>Acme</p>"}},
    }
    body.update(overrides)
    return body


def _wait_for_recipients(sink: SmtpSink, count: int) -> list[Received]:
    """What the sink got once `count` recipients arrived (in one transaction or several)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        received = sink.snapshot()
        if sum(len(m.rcpt_tos) for m in received) >= count:
            return received
        time.sleep(0.05)
    raise AssertionError(f"the sink got {sink.snapshot()}")


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _tree(part: EmailMessage) -> Any:
    if part.is_multipart():
        return [part.get_content_type(), *(_tree(p) for p in part.iter_parts())]  # type: ignore[arg-type]
    return part.get_content_type()


def test_text_html_attachment_and_inline_image_arrive_signed(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    response = _post(scaisend, key, _body())
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    assert response.headers["X-Message-Id"] == message_id

    received = _wait_for_recipients(sink, 3)
    assert sorted(r for m in received for r in m.rcpt_tos) == [
        "ada@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert len({m.data.split(b"\r\n\r\n", 1)[1] for m in received}) == 1  # one message
    data = received[0].data
    assert dkim.verify(data, dnsfunc=dkim_dns(dns_server))
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    data.decode("ascii")
    message = _parse(data)
    assert _tree(message) == [
        "multipart/mixed",
        ["multipart/related", ["multipart/alternative", "text/plain", "text/html"], "image/png"],
        "application/pdf",
    ]
    assert message["Subject"] == "Gr\u00fc\u00dfe, Ada"
    assert message["To"].addresses[0].display_name == "Ada L\u00f6velace"
    assert message["Cc"] == "carol@example.com" and message["Bcc"] is None
    assert message["Reply-To"] == "support@mail.example.com"
    assert (message["X-Campaign"], message["X-Personal"]) == ("spring", "yes")
    assert message["X-ScaiSend-Message-Id"] == message_id
    parts = {p.get_content_type(): p for p in message.walk()}
    text = parts["text/plain"].get_content().replace("\r\n", "\n")
    assert text == f"Hello Ada\n{LONG_LINE}\n\n-- Acme\n"
    assert parts["text/html"].get_content().startswith('<p>Hello Ada <img src="cid:logo"></p>')
    assert parts["image/png"].get_content() == PNG
    assert parts["image/png"]["Content-ID"] == "<logo>"
    assert parts["image/png"].get_content_disposition() == "inline"
    assert parts["application/pdf"].get_content() == PDF
    assert parts["application/pdf"].get_filename() == "Rechnung f\u00fcr Ada.pdf"
    logged = wait_for_status(scaisend, key, message_id, "delivered")
    assert logged["subject"] == "Gr\u00fc\u00dfe, Ada"


def test_sandbox_mode_answers_200_and_delivers_nothing(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    sandbox = _post(scaisend, key, _body(mail_settings={"sandbox_mode": {"enable": True}}))
    assert sandbox.status_code == 200, sandbox.text
    assert sandbox.content == b""
    assert "X-Message-Id" not in sandbox.headers
    invalid = _body(mail_settings={"sandbox_mode": {"enable": True}})
    invalid["attachments"][1]["content"] = "%%% not base64"
    refused = _post(scaisend, key, invalid)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["field"] == "attachments.1.content"

    marker = send(scaisend, key, "zoe@example.com")  # queued after the sandbox request
    wait_for_status(scaisend, key, marker, "delivered")
    assert [m.rcpt_tos for m in sink.snapshot()] == [["zoe@example.com"]]


INJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("subject", {"subject": "Hi\r\nBcc: victim@example.org"}, "subject"),
    ("subject LF", {"subject": "Hi\nBcc: victim@example.org"}, "subject"),
    ("subject NUL", {"subject": "Hi\x00"}, "subject"),
    ("subject U+2028", {"subject": "Hi\u2028Bcc: victim@example.org"}, "subject"),
    ("subject encoded", {"subject": "=?utf-8?q?Hi=0D=0ABcc:_victim@example.org?="}, "subject"),
    (
        "from name",
        {"from": {"email": "hello@mail.example.com", "name": "A\r\nBcc: v@x.org"}},
        "from.name",
    ),
    (
        "to name",
        {"personalizations": [{"to": [{"email": "ada@example.com", "name": "A\nBcc: v@x.org"}]}]},
        "personalizations.0.to.0.name",
    ),
    (
        "personal subject",
        {"personalizations": [{"to": [{"email": "ada@example.com"}], "subject": "a\rb"}]},
        "personalizations.0.subject",
    ),
    (
        "substitution into subject",
        {
            "personalizations": [
                {
                    "to": [{"email": "ada@example.com"}],
                    "substitutions": {"-name-": "x\r\nBcc: v@x.org"},
                }
            ]
        },
        "personalizations.0.substitutions",
    ),
    ("header value", {"headers": {"X-A": "b\r\nBcc: victim@example.org"}}, "headers.X-A"),
    ("header name", {"headers": {"X-A\r\nBcc": "victim@example.org"}}, "headers.X-A\r\nBcc"),
    ("header name colon", {"headers": {"X-A: b\r\nBcc": "v"}}, "headers.X-A: b\r\nBcc"),
    ("reserved header", {"headers": {"Bcc": "victim@example.org"}}, "headers.Bcc"),
    ("return path", {"headers": {"Return-Path": "<b@evil.example>"}}, "headers.Return-Path"),
    (
        "reply_to name",
        {"reply_to": {"email": "r@mail.example.com", "name": "\u2029"}},
        "reply_to.name",
    ),
    ("category", {"categories": ["ok", "a\r\nBcc: v@x.org"]}, "categories.1"),
    ("custom_arg value", {"custom_args": {"k": "v\r\nX: y"}}, "custom_args.k"),
    ("custom_arg key", {"custom_args": {"k\nX": "v"}}, "custom_args.k\nX"),
]


def _attachment_injection(**fields: Any) -> dict[str, Any]:
    attachment = {"content": "aGk=", "filename": "a.txt", **fields}
    return {"attachments": [attachment]}


INJECTIONS += [
    (
        "filename",
        _attachment_injection(filename="a\r\nContent-Type: text/html"),
        "attachments.0.filename",
    ),
    (
        "content_id",
        _attachment_injection(content_id="x\r\nBcc: v@x.org", disposition="inline"),
        "attachments.0.content_id",
    ),
    (
        "attachment type",
        _attachment_injection(type="text/plain\r\nBcc: v@x.org"),
        "attachments.0.type",
    ),
    (
        "content type",
        {"content": [{"type": "text/plain\r\nBcc: v@x.org", "value": "x"}]},
        "content.0.type",
    ),
    ("not base64", _attachment_injection(content="aGk"), "attachments.0.content"),
]


def test_injection_attempts_are_refused_and_nothing_is_queued(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    for name, overrides, field in INJECTIONS:
        response = _post(scaisend, key, _body(**overrides))
        assert response.status_code == 400, (name, response.text)
        error = response.json()["errors"][0]
        assert error["field"] == field, (name, error)
        assert "X-Message-Id" not in response.headers
    marker = send(scaisend, key, "zoe@example.com")
    wait_for_status(scaisend, key, marker, "delivered")
    assert [m.rcpt_tos for m in sink.snapshot()] == [["zoe@example.com"]]
    listed = httpx.get(
        f"{scaisend.base_url}/v3/messages",
        params={"page_size": 100},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert listed.status_code == 200, listed.text
    assert [m["id"] for m in listed.json()["messages"]] == [marker]


def test_limits_and_personalization_senders(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    many = [{"to": [{"email": f"u{i}@example.com"}]} for i in range(1001)]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"personalizations": many}, 400, "personalizations"),
        (
            {
                "personalizations": [
                    {"to": [{"email": "a@example.com"}], "cc": [{"email": "A@example.com"}]}
                ]
            },
            400,
            "personalizations.0.cc.0.email",
        ),
        (
            {
                "personalizations": [
                    {
                        "to": [{"email": "a@example.com"}],
                        "from": {"email": "x@elsewhere.example.org"},
                    }
                ]
            },
            403,
            "personalizations.0.from",
        ),
        (
            {
                "content": [
                    {"type": "text/html", "value": "h"},
                    {"type": "text/plain", "value": "p"},
                ]
            },
            400,
            "content",
        ),
    ]
    for overrides, status, field in cases:
        body = _body(**overrides)
        body.pop("attachments")
        response = _post(scaisend, key, body)
        assert response.status_code == status, response.text
        assert response.json()["errors"][0]["field"] == field
    time.sleep(0.2)
    assert sink.snapshot() == []


@pytest.mark.parametrize("disposition", ["inline", None])
def test_attachment_without_content_id_goes_to_mixed(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, disposition: str | None
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    attachment = {"content": base64.b64encode(b"hello").decode(), "filename": "hello.txt"}
    if disposition:
        attachment["disposition"] = disposition
    body = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "One part",
        "content": [{"type": "text/plain", "value": "Hi"}],
        "attachments": [attachment],
    }
    assert _post(scaisend, key, body).status_code == 202
    message = _parse(sink.wait_for(1)[0].data)
    assert _tree(message) == ["multipart/mixed", "text/plain", "application/octet-stream"]
    part = list(message.iter_parts())[1]
    assert part.get_content() == b"hello"
    assert part.get_content_disposition() == (disposition or "attachment")


@pytest.mark.parametrize("sink", [{"smtputf8": True}, {"smtputf8": False}], indirect=True)
def test_a_utf8_recipient_over_the_api_needs_smtputf8_at_the_next_hop(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """RFC 6531/6532: the address goes out raw in UTF-8 (envelope and To header) to a hop
    that offers SMTPUTF8, and bounces (5.6.7) at one that does not, never downgraded."""
    _, key = account_with_key(scaisend, dns_server)
    message_id = send(scaisend, key, "用户@Example.com")
    if sink.smtputf8:
        wait_for_status(scaisend, key, message_id, "delivered")
        received = sink.snapshot()[0]
        assert received.rcpt_tos == ["用户@example.com"]
        assert "To: 用户@example.com".encode() in received.data
        assert dkim.verify(received.data, dnsfunc=dkim_dns(dns_server))
    else:
        logged = wait_for_status(scaisend, key, message_id, "bounced")
        assert any("5.6.7" in str(event) for event in logged["events"])
        assert sink.snapshot() == []
