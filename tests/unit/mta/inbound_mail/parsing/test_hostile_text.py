"""Inbound bounce text built to make the parsers' regular expressions backtrack: each runs
in linear time (hang-guarded), and the rewritten expressions find what they found before."""

from __future__ import annotations

import pytest

from mta.inbound_mail.parsing.formats import ADDRESS_RE, ORIGINAL_MARKERS_RE
from mta.inbound_mail.parsing.mlnotice import NAMED_RE
from tests.support.bounded import completes

SIZE = 200_000  # parts.MAX_TEXT_CHARS: the most text a part gives the parsers

CLASSIFY = """
from mta.inbound_mail.parsing.classify import classify_message
head = {head!r}.encode() + b"Content-Type: text/plain\\r\\n\\r\\n"
print(classify_message(head + {body}).kind)
"""
BOUNCE = (
    "From: MAILER-DAEMON@mx.example.net\r\nTo: b@x.example.com\r\n"
    "Subject: Undelivered Mail Returned to Sender\r\n"
)
FML = (
    "From: l-admin@x.example.com\r\nX-MLServer: fml\r\n"
    "Message-ID: <1.FML1@x.example.com>\r\nSubject: notice\r\n"
)


@pytest.mark.parametrize(
    ("body", "head"),
    [
        (f'b"-" * {SIZE}', BOUNCE),  # ORIGINAL_MARKERS_RE: quadratic on a line of dashes
        (f'b" " * {SIZE}', BOUNCE),  # … and of blanks
        (f'b"a" * {SIZE}', BOUNCE),  # ADDRESS_RE: a run of local-part characters, no "@"
        (f'b"a-" * {SIZE // 2}', BOUNCE),
        (f'b"<" + b"a@" * {SIZE // 2}', FML),  # NAMED_RE in an fml notice
        (f'b"<a" + b"@" * {SIZE} + b">"', FML),
    ],
)
def test_hostile_bounce_text_is_classified(body: str, head: str) -> None:
    assert completes(CLASSIFY.format(body=body, head=head)).strip() == "other"


@pytest.mark.parametrize(
    "line",
    [
        "------ Original message ------",
        "> -- original message",
        "=== Returned message ===",
        "  ***This is a copy of the original message",
        "__ message header follows",
        "- - -  Undelivered Message",
    ],
)
def test_original_markers_still_found(line: str) -> None:
    assert ORIGINAL_MARKERS_RE.search(f"Sorry.\n{line}\nFrom: a@b.example\n")


@pytest.mark.parametrize("line", ["-- = original message", "original", "x original message"])
def test_original_markers_not_found(line: str) -> None:
    assert not ORIGINAL_MARKERS_RE.search(line)


def test_addresses_found_as_before() -> None:
    text = "to <ada.l@example.com>, bob+x@mail.example.org; x@y, a@b@c.example.net --@q.example.io"
    found = [m.group() for m in ADDRESS_RE.finditer(text)]
    assert found == [
        "ada.l@example.com",
        "bob+x@mail.example.org",
        "b@c.example.net",
        "--@q.example.io",
    ]


def test_fml_named_addresses() -> None:
    assert NAMED_RE.search("You are not a member <ml@lists.example.com>.")
    assert not NAMED_RE.search("<ml@lists.example.com> is mentioned")
