"""Structural checks on a send request, each failure naming SendGrid's field path."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.core.addresses import check_email
from mta.core.errors import ValidationError
from mta.submission.send_request.fields import check_address
from mta.submission.send_request.request import Address, MailSend
from mta.submission.send_request.validate import (
    check_content,
    check_headers,
    check_request,
    check_text,
)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("user@example.com", "user@example.com"),
        ("User@Example.COM", "User@example.com"),  # local part keeps its case
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("x@a-b.example", "x@a-b.example"),
        ("1234@192.example", "1234@192.example"),
    ],
)
def test_check_email_accepts(email: str, expected: str) -> None:
    assert check_email(email, "to.0.email") == expected


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "user@example..com",
        "user@.example.com",
        "user@example.com.",
        "user@-example.com",
        "us er@example.com",
        "user@exa mple.com",
        "user@@example.com",
        "User <user@example.com>",
        "user@ex_ample.com",
        "us\u00e9r@example.com",
        "user@b\u00fccher.de",
        "user@example.com\r\nBcc: victim@example.org",
        "\nuser@example.com",
    ],
)
def test_check_email_refuses(email: str) -> None:
    with pytest.raises(ValidationError) as failure:
        check_email(email, "personalizations.0.to.0.email")
    assert failure.value.field == "personalizations.0.to.0.email"
    assert failure.value.message == "Does not contain a valid address."


def test_check_email_refuses_trailing_newline() -> None:
    with pytest.raises(ValidationError):
        check_email("user@example.com\n", "from.email")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Hello",
        "Gr\u00fc\u00dfe \u2014 caf\u00e9",
        "a\tb",
        "x" * 10_000,
        "=?utf-8?q?caf=C3=A9?=",
        "=?bogus?q?x?=",
        "50% =? off",
    ],
)
def test_check_text_accepts(value: str) -> None:
    assert check_text(value, "subject") is None  # raises on refusal


@pytest.mark.parametrize(
    "value",
    [
        "a\rb",
        "a\nb",
        "a\0b",
        "\r\n",
        "Subject\r\nBcc: x@example.com",
        "end\n",
        "a\u2028Bcc: x@example.com",
        "a\u2029b",
        "a\x85b",  # NEL: str.splitlines() breaks there
        "a\x0bb",
        "a\x0cb",
        "a\x1cb",
        "a\x1bb",
        "=?utf-8?q?hi=0D=0ABcc:_x@example.com?=",
        "=?utf-8?q?hi=0A?=",
        "ok =?utf-8?b?aGkNCkJjYzogeEBleGFtcGxlLmNvbQ==?=",
        "=?iso-8859-1?q?a=00b?=",
    ],
)
def test_check_text_refuses(value: str) -> None:
    with pytest.raises(ValidationError, match="CR, LF, NUL") as failure:
        check_text(value, "personalizations.0.subject")
    assert failure.value.field == "personalizations.0.subject"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Custom": "value"},
        {"X-Entity-Ref-ID": "123", "List-Id": "<list.example.com>"},
        {"X-Empty": ""},
        {"x-subject": "not the reserved one"},
    ],
)
def test_check_headers_accepts(headers: dict[str, str]) -> None:
    assert check_headers(headers, "headers") is None  # raises on refusal


@pytest.mark.parametrize(
    ("headers", "field", "message"),
    [
        ({"Subject": "x"}, "headers.Subject", "reserved"),
        ({"subject": "x"}, "headers.subject", "reserved"),
        ({"SUBJECT": "x"}, "headers.SUBJECT", "reserved"),
        ({"From": "x"}, "headers.From", "reserved"),
        ({"To": "x"}, "headers.To", "reserved"),
        ({"cc": "x"}, "headers.cc", "reserved"),
        ({"BCC": "x"}, "headers.BCC", "reserved"),
        ({"Reply-To": "x"}, "headers.Reply-To", "reserved"),
        ({"dkim-signature": "x"}, "headers.dkim-signature", "reserved"),
        ({"Content-Type": "x"}, "headers.Content-Type", "reserved"),
        ({"content-transfer-encoding": "x"}, "headers.content-transfer-encoding", "reserved"),
        ({"Received": "x"}, "headers.Received", "reserved"),
        ({"X-SG-ID": "x"}, "headers.X-SG-ID", "reserved"),
        ({"x-sg-eid": "x"}, "headers.x-sg-eid", "reserved"),
        ({"Message-ID": "<a@b>"}, "headers.Message-ID", "reserved"),
        ({"date": "x"}, "headers.date", "reserved"),
        ({"MIME-Version": "1.0"}, "headers.MIME-Version", "reserved"),
        ({"Return-Path": "<b@evil.example>"}, "headers.Return-Path", "reserved"),
        ({"return-path": "<>"}, "headers.return-path", "reserved"),
        ({"X-ScaiSend-Message-Id": "x"}, "headers.X-ScaiSend-Message-Id", "reserved"),
        ({"Bad Name": "x"}, "headers.Bad Name", "cannot contain non-ASCII"),
        ({"Bad:Name": "x"}, "headers.Bad:Name", "cannot contain non-ASCII"),
        ({"": "x"}, "headers.", "cannot contain non-ASCII"),
        ({"X-\u00e9": "x"}, "headers.X-\u00e9", "cannot contain non-ASCII"),
        ({"X-Tab\t": "x"}, "headers.X-Tab\t", "cannot contain non-ASCII"),
        ({"X-A\r\nBcc": "x"}, "headers.X-A\r\nBcc", "cannot contain non-ASCII"),
        ({"X-Ok": "x", "X-Inject": "a\r\nBcc: v@example.org"}, "headers.X-Inject", "CR, LF"),
        ({"X-Nul": "a\0"}, "headers.X-Nul", "CR, LF"),
        ({"X-Sep": "a\u2028b"}, "headers.X-Sep", "CR, LF"),
        ({"X-Enc": "=?utf-8?q?a=0ABcc:_v@example.org?="}, "headers.X-Enc", "CR, LF"),
        ({"X-Dup": "a", "x-dup": "b"}, "headers.x-dup", "duplicate keys"),
    ],
)
def test_check_headers_refuses(headers: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as failure:
        check_headers(headers, "headers")
    assert failure.value.field == field


def test_check_headers_refuses_name_with_trailing_newline() -> None:
    with pytest.raises(ValidationError):
        check_headers({"X-Foo\n": "v"}, "headers")


def _request(**overrides: Any) -> MailSend:
    data: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "to@example.com"}]}],
        "from": {"email": "from@example.com", "name": "Sender"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    data.update(overrides)
    return msgspec.convert(data, MailSend)


def _plain(value: str = "Hi") -> dict[str, str]:
    return {"type": "text/plain", "value": value}


def _html(value: str = "<p>Hi</p>") -> dict[str, str]:
    return {"type": "text/html", "value": value}


@pytest.mark.parametrize(
    ("content", "template_id"),
    [
        ([_plain()], None),
        ([_html()], None),
        ([_plain(), _html()], None),
        ([{"type": "TEXT/PLAIN", "value": "a"}, {"type": "Text/Html", "value": "b"}], None),
        ([_plain(), _html(), {"type": "text/calendar", "value": "BEGIN:VCALENDAR"}], None),
        ([_plain(), {"type": "text/x-amp-html", "value": "a"}, _html()], None),
        ([_plain(), _html(), {"type": "text/x-amp-html", "value": "a"}], None),
        (
            [
                _html(),
                {"type": "text/calendar", "value": "x"},
                {"type": "image/svg+xml", "value": "y"},
            ],
            None,
        ),
        ([{"type": "text/calendar", "value": "BEGIN:VCALENDAR"}], None),
        ([], "d-0123456789abcdef"),
        ([_plain()], "d-0123456789abcdef"),
    ],
)
def test_check_content_accepts(content: list[dict[str, str]], template_id: str | None) -> None:
    assert check_content(_request(content=content, template_id=template_id)) is None


@pytest.mark.parametrize(
    ("content", "template_id", "field", "message"),
    [
        ([_html(), _plain()], None, "content", "text/plain needs to be first"),
        ([{"type": "Text/HTML", "value": "b"}, _plain()], None, "content", "RFC 1341"),
        ([{"type": "text/x-amp-html", "value": "a"}, _plain()], None, "content", "RFC 1341"),
        ([{"type": "text/calendar", "value": "a"}, _plain()], None, "content", "RFC 1341"),
        ([_plain(), {"type": "text/calendar", "value": "a"}, _html()], None, "content", "RFC 1341"),
        ([_plain(), _plain("again")], None, "content.1.type", "may only be provided once"),
        ([_html(), _html("again")], None, "content.1.type", "may only be provided once"),
        ([_plain(), {"type": "TEXT/PLAIN", "value": "x"}], None, "content.1.type", "only be"),
        (
            [
                _html(),
                {"type": "text/calendar", "value": "a"},
                {"type": "text/calendar", "value": "b"},
            ],
            None,
            "content.2.type",
            "text/calendar may only be provided once",
        ),
        ([_plain("")], None, "content.0.value", "at least one character"),
        ([_plain(), _html("")], None, "content.1.value", "at least one character"),
        ([{"type": "", "value": "x"}], None, "content.0.type", "at least one character"),
        ([{"type": "text/plain; charset=x", "value": "x"}], None, "content.0.type", "';'"),
        ([{"type": "text/plain\r\nBcc: x", "value": "x"}], None, "content.0.type", "CRLF"),
        ([{"type": "textplain", "value": "x"}], None, "content.0.type", "MIME type"),
        ([{"type": "text/pl ain", "value": "x"}], None, "content.0.type", "MIME type"),
        ([], None, "content", "content param is required unless"),
        ([], "", "content", "content param is required unless"),
    ],
)
def test_check_content_refuses(
    content: list[dict[str, str]], template_id: str | None, field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as failure:
        assert check_content(_request(content=content, template_id=template_id)) is None
    assert failure.value.field == field


def _to(*emails: str) -> list[dict[str, str]]:
    return [{"email": e} for e in emails]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"personalizations": [{"to": _to("a@x.example", "b@x.example"), "cc": _to("c@x.example")}]},
        {"personalizations": [{"to": _to("a@x.example")}, {"to": _to("b@x.example")}]},
        {"subject": None, "personalizations": [{"to": _to("a@x.example"), "subject": "Own"}]},
        {"subject": None, "template_id": "d-1", "content": []},
        {"categories": [f"c{i}" for i in range(10)]},
        {"reply_to": {"email": "reply@example.com", "name": "Help"}},
        {"headers": {"X-Campaign": "spring"}},
        {"personalizations": [{"to": _to(*(f"u{i}@x.example" for i in range(1000)))}]},
    ],
)
def test_check_request_accepts(overrides: dict[str, Any]) -> None:
    request = _request(**overrides)
    assert check_request(request) is None  # raises on refusal
    emails = [a.email for p in request.personalizations for a in (*p.to, *p.cc, *p.bcc)]
    assert len(emails) == len({e.lower() for e in emails})


def test_check_request_lower_cases_domains() -> None:
    request = _request(
        personalizations=[{"to": _to("A@X.Example"), "bcc": _to("b@Y.EXAMPLE")}],
        **{"from": {"email": "Me@Example.COM"}},
    )
    check_request(request)
    assert request.from_.email == "Me@example.com"
    assert request.personalizations[0].to[0].email == "A@x.example"
    assert request.personalizations[0].bcc[0].email == "b@y.example"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"personalizations": []}, "personalizations", "at least one personalization"),
        (
            {"personalizations": [{"to": _to(f"u{i}@x.example")} for i in range(1001)]},
            "personalizations",
            "limited to 1000 personalizations per API request. You have provided 1001",
        ),
        ({"from": {"email": "a" * 311 + "@x.example"}}, "from.email", "The From email exceeds"),
        ({"subject": ""}, "subject", "at least one character in length"),
        (
            {"personalizations": [{"to": _to("a@x.example"), "subject": ""}]},
            "personalizations.0.subject",
            "at least one character in length",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example"), "from": {"email": "bad"}}]},
            "personalizations.0.from.email",
            "valid address",
        ),
        (
            {"personalizations": [{"to": [{"email": "a@x.example", "name": "A\u2028B"}]}]},
            "personalizations.0.to.0.name",
            "CR, LF",
        ),
        (
            {"personalizations": [{"to": _to("a" * 320 + "@x.example")}]},
            "personalizations.0.to.0.email",
            "The To email exceeds the maximum total length of 320 characters",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example"), "cc": _to("b" * 320 + "@x.ex")}]},
            "personalizations.0.cc.0.email",
            "The CC email exceeds",
        ),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to", "The to array is required"),
        (
            {"personalizations": [{"to": _to("a@x.example")}, {"to": []}]},
            "personalizations.1.to",
            "The to array is required",
        ),
        ({"from": {"email": "nope"}}, "from.email", "valid address"),
        ({"from": {"email": "a@b.example", "name": "A\r\nB"}}, "from.name", "CR, LF"),
        ({"reply_to": {"email": "bad"}}, "reply_to.email", "valid address"),
        ({"reply_to": {"email": "r@x.example", "name": "\n"}}, "reply_to.name", "CR, LF"),
        ({"subject": "Hi\r\nBcc: v@x.example"}, "subject", "CR, LF"),
        ({"headers": {"Subject": "x"}}, "headers.Subject", "reserved"),
        ({"categories": [f"c{i}" for i in range(11)]}, "categories", "limit of 10 categories"),
        ({"categories": ["ok", "bad\n"]}, "categories.1", "CR, LF"),
        ({"content": []}, "content", "content param is required unless"),
        (
            {"personalizations": [{"to": _to("a@x.example"), "subject": "a\nb"}]},
            "personalizations.0.subject",
            "CR, LF",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example"), "headers": {"bcc": "x"}}]},
            "personalizations.0.headers.bcc",
            "reserved",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example", "not-an-address")}]},
            "personalizations.0.to.1.email",
            "valid address",
        ),
        (
            {"personalizations": [{"to": [{"email": "a@x.example", "name": "A\nB"}]}]},
            "personalizations.0.to.0.name",
            "CR, LF",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example"), "bcc": _to("bad@")}]},
            "personalizations.0.bcc.0.email",
            "valid address",
        ),
        # Duplicate recipients, anywhere in the request, case-insensitively.
        (
            {"personalizations": [{"to": _to("a@x.example", "a@x.example")}]},
            "personalizations.0.to.1.email",
            "should be unique",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example"), "cc": _to("A@X.EXAMPLE")}]},
            "personalizations.0.cc.0.email",
            "should be unique",
        ),
        (
            {
                "personalizations": [
                    {"to": _to("a@x.example"), "bcc": _to("b@x.example", "a@x.example")}
                ]
            },
            "personalizations.0.bcc.1.email",
            "should be unique",
        ),
        (
            {
                "personalizations": [
                    {"to": _to("a@x.example")},
                    {"to": _to("b@x.example"), "cc": _to("a@x.example")},
                ]
            },
            "personalizations.1.cc.0.email",
            "should be unique",
        ),
        (
            {"personalizations": [{"to": _to("a@x.example")}, {"to": _to("A@x.example")}]},
            "personalizations.1.to.0.email",
            "should be unique",
        ),
        (
            {"personalizations": [{"to": _to(*(f"u{i}@x.example" for i in range(1001)))}]},
            "personalizations",
            r"limit of 1000 total recipients \(to \+ cc \+ bcc\) per request",
        ),
        (
            {
                "personalizations": [
                    {"to": _to(*(f"u{i}@x.example" for i in range(600)))},
                    {
                        "to": _to(*(f"v{i}@x.example" for i in range(300))),
                        "cc": _to(*(f"w{i}@x.example" for i in range(101))),
                    },
                ]
            },
            "personalizations",
            r"limit of 1000 total recipients \(to \+ cc \+ bcc\) per request",
        ),
        ({"subject": None}, "subject", "The subject is required. You can get around"),
        (
            {
                "subject": None,
                "personalizations": [
                    {"to": _to("a@x.example"), "subject": "s"},
                    {"to": _to("b@x.example")},
                ],
            },
            "subject",
            "The subject is required",
        ),
    ],
)
def test_check_request_refuses(overrides: dict[str, Any], field: str, message: str) -> None:
    request = _request(**overrides)
    with pytest.raises(ValidationError, match=message) as failure:
        check_request(request)
    assert failure.value.field == field


@pytest.mark.parametrize(
    ("email", "utf8", "accepted"),
    [
        ("用户@例子.中国", True, "用户@例子.中国"),
        ("jöran@Bücher.Example", True, "jöran@bücher.example"),
        ("用户@例子.中国", False, None),  # the HTTP API stays ASCII, as SendGrid's
        ("a\u2028b@example.com", True, None),  # a Unicode line separator
        ("a\u0085b@example.com", True, None),  # a C1 control (NEL)
        ("a\u00a0b@example.com", True, None),  # a no-break space
        ("a@exa\u00admple.com", True, None),  # a soft hyphen: IDNA maps it away, so no
        ("a@" + "ü" * 70 + ".com", True, None),  # a label IDNA cannot encode (too long)
    ],
)
def test_check_email_utf8_envelopes(email: str, utf8: bool, accepted: str | None) -> None:
    if accepted is None:
        with pytest.raises(ValidationError):
            check_email(email, "rcpt.0", utf8=utf8)
    else:
        assert check_email(email, "rcpt.0", utf8=utf8) == accepted


@pytest.mark.parametrize(
    "value",
    [
        "=?utf-8?q?=0A=FF?=",  # not UTF-8 after the break: still read with the break
        "=?x-unknown?q?a=0Ab?=",
        "=?utf-8?q?a=E2=80=A8b?=",  # U+2028 encoded
    ],
)
def test_check_text_reads_encoded_words_as_a_reader_would(value: str) -> None:
    with pytest.raises(ValidationError, match="CR, LF"):
        check_text(value, "subject")


@pytest.mark.parametrize(
    ("email", "stored"),
    [
        ("jöran@Bücher.Example", "jöran@xn--bcher-kva.example"),  # sent with SMTPUTF8
        ("jöran\u2028@example.com", None),
        ("joran@Bücher.Example", "joran@xn--bcher-kva.example"),
        ("ada@例子.中国", "ada@xn--fsqu00a.xn--fiqs8s"),
        ("ada@example.com", "ada@example.com"),
    ],
)
def test_api_addresses_with_idn_domains_are_stored_in_ascii(email: str, stored: str | None) -> None:
    address = Address(email=email)
    if stored is None:
        with pytest.raises(ValidationError):
            check_address(address, "personalizations.0.to.0", "To")
    else:
        check_address(address, "personalizations.0.to.0", "To")
        assert address.email == stored
