"""MIME building: the bytes parse back with the `email` package and are SMTP-safe."""

from __future__ import annotations

import base64
import email
import email.header
import email.policy
import email.utils
from email.message import EmailMessage
from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.submission.mime import (
    TRACKING_HEADER,
    MimeAttachment,
    build_message,
    format_address,
    header_values,
    stamp_submitted,
)
from mta.submission.mime_headers import fold_lines
from mta.submission.send_request.request import Address, Content


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


def _attachment(name: str, data: bytes, **fields: Any) -> MimeAttachment:
    values: dict[str, Any] = dict(
        content_type="application/pdf",
        filename=name,
        inline=False,
        content_id=None,
        body=base64.encodebytes(data).decode("ascii"),
        size=len(data),
    )
    values.update(fields)
    return MimeAttachment(**values)


PDF = b"%PDF-1.4 " + bytes(range(256)) * 20
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
LOGO = _attachment("logo.png", PNG, content_type="image/png", inline=True, content_id="logo@x")
REPORT = _attachment("report.pdf", PDF)


def _tree(part: EmailMessage) -> Any:
    if part.is_multipart():
        return [part.get_content_type(), *(_tree(p) for p in part.iter_parts())]  # type: ignore[arg-type]
    return part.get_content_type()


ALT = ["multipart/alternative", "text/plain", "text/html"]


@pytest.mark.parametrize(
    ("text", "attachments", "tree"),
    [
        ("t", [], ALT),
        ("t", [REPORT], ["multipart/mixed", ALT, "application/pdf"]),
        ("t", [LOGO], ["multipart/related", ALT, "image/png"]),
        (
            "t",
            [LOGO, REPORT],
            ["multipart/mixed", ["multipart/related", ALT, "image/png"], "application/pdf"],
        ),
        (
            "t",
            [REPORT, LOGO, REPORT],
            [
                "multipart/mixed",
                ["multipart/related", ALT, "image/png"],
                "application/pdf",
                "application/pdf",
            ],
        ),
        (None, [LOGO], ["multipart/related", "text/html", "image/png"]),
        (None, [REPORT], ["multipart/mixed", "text/html", "application/pdf"]),
        # inline without a content id cannot be referenced: it goes with the attachments
        (
            "t",
            [_attachment("i.png", PNG, inline=True)],
            ["multipart/mixed", ALT, "application/pdf"],
        ),
    ],
)
def test_structure(text: str | None, attachments: list[MimeAttachment], tree: Any) -> None:
    data = _build(text=text, html="<p><img src='cid:logo@x'></p>", attachments=attachments)
    _assert_smtp_safe(data)
    message = _parse(data)
    assert _tree(message) == tree
    assert message["MIME-Version"] == "1.0"
    assert message["Subject"] == "Hello"


def test_related_names_its_root_type() -> None:
    for text, root in (("t", "multipart/alternative"), (None, "text/html")):
        message = _parse(_build(text=text, attachments=[LOGO]))
        assert message.get_content_type() == "multipart/related"
        assert message.get_param("type") == root


def test_attachments_round_trip() -> None:
    message = _parse(_build(attachments=[LOGO, REPORT]))
    parts = {p.get_content_type(): p for p in message.walk()}
    logo, report = parts["image/png"], parts["application/pdf"]
    assert logo.get_content() == PNG and report.get_content() == PDF
    assert logo["Content-Transfer-Encoding"] == report["Content-Transfer-Encoding"] == "base64"
    assert logo["Content-ID"] == "<logo@x>"
    assert logo.get_content_disposition() == "inline"
    assert report.get_content_disposition() == "attachment"
    assert (logo.get_filename(), report.get_filename()) == ("logo.png", "report.pdf")
    assert report.get_param("name") == "report.pdf"
    assert report["Content-ID"] is None


@pytest.mark.parametrize(
    "name",
    [
        "plain.txt",
        'quote"and\\backslash.txt',
        "semi;colon, comma.txt",
        "r\u00e9sum\u00e9.pdf",
        "\u65e5\u672c\u8a9e\u306e\u30d5\u30a1\u30a4\u30eb.docx",
        "\U0001f600.png",
        "long " * 40 + ".pdf",
        "\u00e4" * 255,
        "../../etc/passwd",
    ],
)
def test_filenames_round_trip(name: str) -> None:
    data = _build(attachments=[_attachment(name, PDF)])
    _assert_smtp_safe(data)
    assert max(len(line) for line in data.split(b"\r\n")[:-1] if not line.startswith(b"JVBE")) < 100
    part = next(p for p in _parse(data).walk() if p.get_content_type() == "application/pdf")
    assert part.get_filename() == name
    assert part.get_param("name") == name
    if not name.isascii():  # RFC 2231, not RFC 2047 encoded words, in parameters
        raw = data.decode("ascii")
        assert (
            "filename*0*=utf-8''" in raw and "=?utf-8?" not in raw.split("Content-Disposition")[1]
        )


def test_other_content_types() -> None:
    contents = [
        Content("text/plain", "plain"),
        Content("text/x-amp-html", "<html \u26a14email>amp</html>"),
        Content("text/html", "<p>html</p>"),
        Content("text/calendar", "BEGIN:VCALENDAR\nEND:VCALENDAR"),
        Content("application/json", '{"k": "\u00e9"}'),
    ]
    data = _build(contents=contents)
    _assert_smtp_safe(data)
    message = _parse(data)
    parts = list(message.iter_parts())
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts] == [c.type for c in contents]
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["quoted-printable"] * 4 + ["base64"]
    assert _body_text(parts[1]).rstrip("\n") == contents[1].value  # type: ignore[arg-type]
    assert parts[4].get_content() == contents[4].value.encode()
    assert parts[3].get_content_charset() == "utf-8"


@pytest.mark.parametrize(
    "text",
    [
        ".\nline after a lone dot\n.",
        "From the start of a line\n>From quoted",
        "trailing spaces   \ntrailing tab\t\n",
        "--=_not-a-boundary\n--=_",
        "=3D is not decoded twice, = stays",
        "CR\rand CRLF\r\nand LF\n",
        "\u00e9" * 5000,
        "\U0001f600" * 3000,
        "x" * 5000 + "\n" + "\u00e9" * 3 + " " * 2000,
    ],
)
def test_bodies_round_trip_exactly(text: str) -> None:
    data = _build(text=text, html=None, attachments=[REPORT])
    _assert_smtp_safe(data)
    part = next(p for p in _parse(data).walk() if p.get_content_type() == "text/plain")
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert _body_text(part) == (expected if expected.endswith("\n") else expected + "\n")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject", "Hi\r\nBcc: victim@example.org"),
        ("subject", "Hi\nBcc: victim@example.org"),
        ("subject", "Hi\u2028Bcc: victim@example.org"),
        ("subject", "Hi\x85Bcc: victim@example.org"),
        ("headers", {"X-A": "b\r\nBcc: victim@example.org"}),
        ("headers", {"X-A": "b\u2029c"}),
        ("to", [Address("a@example.net", "A\r\nBcc: victim@example.org")]),
        ("sender", Address("from@example.com", "F\nX: y")),
        ("attachments", [_attachment("a\r\nContent-Type: text/html", PDF)]),
        ("attachments", [_attachment("x.png", PNG, inline=True, content_id="a\r\nb")]),
    ],
)
def test_builder_never_writes_a_broken_header(field: str, value: Any) -> None:
    """The last guard, behind validation: a line break anywhere in a header is a 400."""
    with pytest.raises(ValidationError) as failure:
        _build(**{field: value})
    assert "may not contain line breaks" in failure.value.message


@pytest.mark.parametrize(
    "name",
    [
        "\u00e4" * 300,
        "Z\u00fcrich " * 60,
        "a" * 600,
        "very long ascii name " * 40,
        "\u65e5\u672c" * 200,
    ],
)
def test_long_display_names_fold(name: str) -> None:
    data = _build(to=[Address("a@example.net", name), Address("b@example.net", "B")])
    _assert_smtp_safe(data)
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["To"]
    assert isinstance(raw, str)
    decoded = str(email.header.make_header(email.header.decode_header(raw)))
    assert name.replace("  ", " ").strip() in decoded.replace("  ", " ")
    assert "<a@example.net>" in decoded and "B <b@example.net>" in decoded


def test_a_thousand_recipients_fold() -> None:
    to = [Address(f"user{i}@example.net", f"User {i}") for i in range(1000)]
    data = _build(to=to)
    _assert_smtp_safe(data)
    assert max(len(line) for line in data.split(b"\r\n")) <= 78
    assert [a.addr_spec for a in _parse(data)["To"].addresses] == [a.email for a in to]


def test_reply_to_list() -> None:
    replies = [Address("r1@example.com"), Address("r2@example.com", "R\u00e9ponse")]
    message = _parse(_build(reply_to=replies))
    assert [(a.display_name, a.addr_spec) for a in message["Reply-To"].addresses] == [
        ("", "r1@example.com"),
        ("R\u00e9ponse", "r2@example.com"),
    ]


def test_boundaries_are_unique_and_absent_from_the_parts() -> None:
    data = _build(attachments=[LOGO, REPORT])
    message = _parse(data)
    boundaries = [p.get_boundary() for p in message.walk() if p.is_multipart()]
    assert len(boundaries) == len(set(boundaries)) == 3
    for boundary in boundaries:
        assert boundary is not None and boundary.startswith("=_")
        assert data.count(f"--{boundary}--".encode()) == 1


@pytest.mark.parametrize(
    "value",
    [
        "a" * 50 + ";" + "b" * 50 + "," + "c" * 60,  # no spaces: one line, never split at ;/,
        "<https://example.com/unsub?id=" + "x" * 120 + ">, <mailto:u@example.com?subject=u>",
        "word " * 40,
        "two  spaces   and    more " * 10,
        " leading space and a long tail " + "t" * 100,
        "x" * 900,
        "y" * 100 + " " + "z" * 890,
    ],
)
def test_long_header_values_unfold_exactly(value: str) -> None:
    data = _build(headers={"X-Long": value})
    _assert_smtp_safe(data)
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    raw = head.split("X-Long: ", 1)[1].split("\r\nMIME-Version")[0]
    assert raw.replace("\r\n", "") == value  # RFC 5322 unfolding removes CRLF only
    assert all(line.strip() for line in raw.split("\r\n"))  # no whitespace-only lines
    assert max(len(line) for line in head.split("\r\n")) <= 998


@pytest.mark.parametrize(
    ("text", "used", "lines"),
    [
        ("short", 8, ["short"]),
        ("aaa bbb ccc", 0, ["aaa bbb ccc"]),
        ("aaa bbb ccc", 70, ["aaa bbb", "ccc"]),
        ("a" * 100, 8, ["a" * 100]),
        ("a  b", 77, ["a ", "b"]),  # breaks only before a word, never into blank lines
        ("x " * 50, 0, ["x " * 38 + "x", "x " * 11]),
    ],
)
def test_fold_lines(text: str, used: int, lines: list[str]) -> None:
    assert fold_lines(text, used) == lines
    assert " ".join(lines) == text


def test_utf8_addresses_are_written_raw_as_rfc_6532_asks() -> None:
    built = _build(to=[Address("用户@example.net", "Jörg"), Address("b@example.net", "Bob")])
    to = next(line for line in built.split(b"\r\n") if line.startswith(b"To:"))
    assert "<用户@example.net>".encode() in to  # the address itself: UTF-8, never encoded
    assert b"=?utf-8?" in to  # the display name: an encoded word
    assert b"Bob <b@example.net>" in to
    parsed = email.message_from_string(built.decode("utf-8"), policy=email.policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["用户@example.net", "b@example.net"]
