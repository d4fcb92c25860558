"""MIME building: the bytes parse back with the `email` package and are SMTP-safe."""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
from email.message import EmailMessage
from typing import Any

import pytest

from mta.intake.mime import (
    TRACKING_HEADER,
    build_message,
    format_address,
    header_values,
    stamp_submitted,
)
from mta.intake.request import Address


def _build(**overrides: Any) -> bytes:
    args: dict[str, Any] = dict(
        sender=Address("from@example.com", "J\u00f6rg Sender"),
        to=[Address("a@example.net", "Alice"), Address("b@example.net")],
        cc=[],
        reply_to=None,
        subject="Hello",
        text="Plain body",
        html="<p>HTML body</p>",
        headers={},
        message_id="msg123",
        queue_id="q456",
        domain="example.com",
    )
    args.update(overrides)
    return build_message(**args)


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _body_text(part: EmailMessage) -> str:
    """The decoded body with line ends normalised (the parser keeps the wire's CRLF)."""
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def _assert_smtp_safe(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in data.replace(b"\r\n", b""), "bare CR"
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    data.decode("ascii")  # 7-bit clean: every part is encoded


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (Address("a@example.com"), "a@example.com"),
        (Address("a@example.com", ""), "a@example.com"),
        (Address("a@example.com", "Alice"), "Alice <a@example.com>"),
        (Address("a@example.com", "Doe, John"), '"Doe, John" <a@example.com>'),
    ],
)
def test_format_address(address: Address, expected: str) -> None:
    assert format_address(address) == expected


def test_headers_parse_back() -> None:
    data = _build(
        cc=[Address("c@example.net", "Carol")],
        reply_to=Address("help@example.com", "Help Desk"),
        headers={"X-Campaign": "spring", "List-Id": "<news.example.com>"},
    )
    _assert_smtp_safe(data)
    message = _parse(data)
    assert message["From"].addresses[0].display_name == "J\u00f6rg Sender"
    assert message["From"].addresses[0].addr_spec == "from@example.com"
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("Alice", "a@example.net"),
        ("", "b@example.net"),
    ]
    assert [a.addr_spec for a in message["Cc"].addresses] == ["c@example.net"]
    assert message["Reply-To"].addresses[0].addr_spec == "help@example.com"
    assert message["Subject"] == "Hello"
    assert message["Message-ID"] == "<q456@example.com>"
    assert message[TRACKING_HEADER] == "msg123"
    assert message["X-Campaign"] == "spring"
    assert message["List-Id"] == "<news.example.com>"
    assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message.get_all("Bcc") is None


def test_no_cc_and_no_reply_to_headers_when_absent() -> None:
    message = _parse(_build())
    assert message["Cc"] is None
    assert message["Reply-To"] is None


@pytest.mark.parametrize(
    "subject",
    [
        "Gr\u00fc\u00dfe aus K\u00f6ln",
        "\u65e5\u672c\u8a9e\u306e\u4ef6\u540d",
        "Caf\u00e9 " * 40,
        "\U0001f600 smile",
    ],
)
def test_non_ascii_subject_is_rfc2047_encoded(subject: str) -> None:
    data = _build(subject=subject)
    _assert_smtp_safe(data)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["Subject"]
    assert isinstance(raw, str)
    assert raw.lower().startswith("=?utf-8?")
    assert str(email.header.make_header(email.header.decode_header(raw))) == subject
    assert _parse(data)["Subject"] == subject


def test_non_ascii_display_name_is_encoded() -> None:
    data = _build(to=[Address("z@example.net", "Z\u00fcrich B\u00fcro")])
    _assert_smtp_safe(data)
    assert _parse(data)["To"].addresses[0].display_name == "Z\u00fcrich B\u00fcro"


def test_text_and_html_make_multipart_alternative_text_first() -> None:
    data = _build(text="Gr\u00fc\u00dfe", html="<p>Gr\u00fc\u00dfe</p>")
    _assert_smtp_safe(data)
    message = _parse(data)
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [_body_text(p).rstrip("\n") for p in parts] == [
        "Gr\u00fc\u00dfe",
        "<p>Gr\u00fc\u00dfe</p>",
    ]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "html", "content_type", "body"),
    [
        ("only text", None, "text/plain", "only text"),
        (None, "<b>only html</b>", "text/html", "<b>only html</b>"),
    ],
)
def test_single_part(text: str | None, html: str | None, content_type: str, body: str) -> None:
    data = _build(text=text, html=html)
    _assert_smtp_safe(data)
    message = _parse(data)
    assert not message.is_multipart()
    assert message.get_content_type() == content_type
    assert _body_text(message).rstrip("\n") == body


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("x" * 5000, None),
        (None, "<p>" + "y" * 5000 + "</p>"),
        ("z" * 5000, "<p>" + "\u00e9" * 5000 + "</p>"),
        ("word " * 1000, None),
    ],
)
def test_long_single_line_body_is_wrapped(text: str | None, html: str | None) -> None:
    data = _build(text=text, html=html)
    _assert_smtp_safe(data)
    message = _parse(data)
    parts = list(message.iter_parts()) if message.is_multipart() else [message]
    bodies = [_body_text(p).rstrip("\n") for p in parts]
    assert bodies == [b for b in (text, html) if b is not None]


def test_body_with_bare_lf_lines_becomes_crlf() -> None:
    data = _build(text="line one\nline two\n\nline four", html=None)
    _assert_smtp_safe(data)
    assert _body_text(_parse(data)) == "line one\nline two\n\nline four\n"


def test_long_custom_header_stays_under_998() -> None:
    data = _build(headers={"X-Long": "a" * 3000})
    _assert_smtp_safe(data)
    assert _parse(data)["X-Long"] == "a" * 3000


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"From: a@example.com\r\nSubject: Hi\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n",
            {"from": "a@example.com", "subject": "Hi", "message-id": "<x@y>"},
        ),
        (
            b"SUBJECT: first\r\nsubject: second\r\n\r\n",
            {"subject": "first"},
        ),
        (b"Subject: folded\r\n  line\r\n\r\n", {"subject": "folded  line"}),
        (b"Subject: =?utf-8?q?Caf=C3=A9?= ok\r\n\r\n", {"subject": "Café ok"}),
        (b"Subject: =?bogus-charset?q?x?=\r\n\r\n", {"subject": "=?bogus-charset?q?x?="}),
        (b"From: a@example.com\r\n\r\nSubject: in the body\r\n", {"from": "a@example.com"}),
        (b"\r\nno headers\r\n", {}),
    ],
)
def test_header_values(data: bytes, expected: dict[str, str]) -> None:
    assert header_values(data) == expected


SUBMITTED = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: Hi\r\n\r\nbody\r\n"


@pytest.mark.parametrize(
    ("extra", "adds_message_id", "adds_date"),
    [
        (b"", True, True),
        (b"Message-ID: <client@example.com>\r\n", False, True),
        (b"Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n", True, False),
        (
            b"message-id: <client@example.com>\r\nDATE: Mon, 01 Jan 2024 00:00:00 +0000\r\n",
            False,
            False,
        ),
    ],
)
def test_stamp_submitted(extra: bytes, adds_message_id: bool, adds_date: bool) -> None:
    original = extra + SUBMITTED
    stamped = stamp_submitted(
        original, message_id="msg789", domain="example.com", present=header_values(original)
    )
    assert stamped.endswith(original)
    added = stamped[: -len(original)]
    lines = added.decode("ascii").split("\r\n")
    assert lines[0] == f"{TRACKING_HEADER}: msg789"
    assert lines[-1] == ""
    assert ("Message-ID: <msg789@example.com>" in lines) is adds_message_id
    assert any(line.startswith("Date: ") for line in lines) is adds_date
    assert len(lines) == 2 + adds_message_id + adds_date
    message = _parse(stamped)
    assert len(message.get_all("Message-ID", [])) == 1
    assert len(message.get_all("Date", [])) == 1
    assert message[TRACKING_HEADER] == "msg789"
    if adds_date:
        assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
