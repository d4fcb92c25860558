"""Editing the text parts of a submitted message: which parts are found (and which are left
alone), how each is decoded and written back, and that every other byte stays as it was."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from mta.submission.send_request.request import Content
from mta.submission.smtp_message.body import MAX_DEPTH, rewrite_texts

SIGN = "\u00e9!"  # non-ASCII, so the written part must be UTF-8


def marked(contents: list[Content]) -> list[Content]:
    return [Content(c.type, f"{c.type}:{c.value}{SIGN}") for c in contents]


def seen(data: bytes) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    rewrite_texts(
        data, lambda contents: found.extend((c.type, c.value) for c in contents) or contents
    )
    return found


def leaves(data: bytes) -> list[tuple[str, str]]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return [
        (part.get_content_type(), str(part.get_content()).replace("\r\n", "\n"))
        for part in message.walk()
        if not part.is_multipart()
    ]


MIXED = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
PLAIN = b"From: a@example.com\r\nSubject: s\r\n\r\nHello\r\nthere\r\n"
ALTERNATIVE = (
    b"From: a@example.com\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed;\r\n boundary="outer"\r\n\r\n'
    b"This is a preamble.\r\n"
    b"--outer\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=us-ascii; format=flowed\r\n\r\n"
    b"plain body\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=iso-8859-1\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"PGI+aOk8L2I+\r\n"
    b"--inner--\r\n"
    b"\r\n--outer\r\n"
    b"Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\n"
    b"attached text\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n\r\n"
    b"Subject: inner\r\n\r\nforwarded text\r\n"
    b"--outer--\r\n"
    b"epilogue\r\n"
)


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (PLAIN, [("text/plain", "Hello\nthere\n")]),
        (ALTERNATIVE, [("text/plain", "plain body"), ("text/html", "<b>h\u00e9</b>")]),
        (  # quoted-printable UTF-8 html as the only part
            b"Content-Type: text/html; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"<p>caf=C3=A9 =\r\nsoft</p>\r\n",
            [("text/html", "<p>caf\u00e9 soft</p>\n")],
        ),
        (  # undeclared UTF-8 in a part said to be ASCII
            "Subject: s\r\n\r\ncaf\u00e9\r\n".encode(),
            [("text/plain", "caf\u00e9\n")],
        ),
        (b"Content-Type: image/png\r\n\r\nxx\r\n", []),
        (b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n", []),  # cannot write back
        (b"Content-Type: text/plain; charset=x-unknown\r\n\r\nhi\r\n", []),
        (
            b'Content-Type: multipart/signed; boundary="s"\r\n\r\n--s\r\n\r\nsigned\r\n--s--\r\n',
            [],
        ),
        (  # no close delimiter: the last part still counts
            MIXED + b"--b\r\n\r\nfirst\r\n--b\r\n\r\nlast\r\n",
            [("text/plain", "first"), ("text/plain", "last\n")],
        ),
        (  # an empty part, and a boundary-like line that is not one
            MIXED + b"--b\r\n--b\r\n\r\n--bx\r\n--b--\r\n",
            [("text/plain", "--bx")],
        ),
        (b'Content-Type: multipart/mixed; boundary="b"\r\n\r\nno parts at all\r\n', []),
        (b"Subject: headers only", [("text/plain", "")]),
    ],
)
def test_text_parts_are_found_and_decoded(data: bytes, found: list[tuple[str, str]]) -> None:
    assert seen(data) == found


@pytest.mark.parametrize("data", [PLAIN, ALTERNATIVE])
def test_unchanged_texts_leave_the_bytes_alone(data: bytes) -> None:
    assert rewrite_texts(data, lambda contents: contents) == data


def test_a_single_part_message_is_rewritten_with_mime_headers() -> None:
    out = rewrite_texts(PLAIN, marked)
    head = out.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"From: a@example.com\r\nSubject: s\r\n")
    assert b"MIME-Version: 1.0\r\n" in head + b"\r\n"
    assert b'Content-Type: text/plain; charset="utf-8"' in head
    assert head.endswith(b"Content-Transfer-Encoding: quoted-printable")
    assert leaves(out) == [("text/plain", f"text/plain:Hello\nthere\n{SIGN}\n")]
    assert b"\n" not in out.replace(b"\r\n", b"")


def test_only_the_text_parts_of_a_multipart_change() -> None:
    out = rewrite_texts(ALTERNATIVE, marked)
    assert leaves(out) == [
        ("text/plain", f"text/plain:plain body{SIGN}\n"),
        ("text/html", f"text/html:<b>h\u00e9</b>{SIGN}\n"),
        ("text/plain", "attached text"),
        ("text/plain", "forwarded text"),  # inside the message/rfc822, left alone
    ]
    # Headers, preamble, other parts and epilogue are the same bytes.
    assert out.startswith(ALTERNATIVE.split(b"--inner\r\n")[0] + b"--inner\r\n")
    assert out.endswith(ALTERNATIVE[ALTERNATIVE.index(b"--inner--") :])
    assert b'format="flowed"' in out and b"iso-8859-1" not in out


def test_a_mime_version_already_there_is_not_repeated() -> None:
    data = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    out = rewrite_texts(data, marked)
    assert out.count(b"MIME-Version") == 1 and out.count(b"Content-Type") == 1


def test_nesting_beyond_the_limit_is_left_alone() -> None:
    data = b"\r\nplain\r\n"
    for depth in range(MAX_DEPTH + 1):
        boundary = f"b{depth}".encode()
        data = (
            b'Content-Type: multipart/mixed; boundary="'
            + boundary
            + b'"\r\n\r\n--'
            + boundary
            + b"\r\n"
            + data
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
    assert seen(data) == []
    assert rewrite_texts(data, marked) == data
