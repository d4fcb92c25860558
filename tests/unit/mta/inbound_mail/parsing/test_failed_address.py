"""Which address a bounce says failed, on synthetic bounces: never the bounce's own or the
returned original's list addresses (family 3), and old text formats (family 5)."""

from __future__ import annotations

from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from mta.inbound_mail.parsing.classify import classify_message

OUR_VERP = "bounces+m1.0.mac@bounces.example.com"


def _original(to: str, headers: dict[str, str] | None = None) -> MIMEText:
    original = MIMEText("Hello.\n")
    original["From"] = "news@shop.example.com"
    original["To"] = to
    original["Subject"] = "Our news"
    original["Return-Path"] = f"<{OUR_VERP}>"
    for name, value in (headers or {}).items():
        original[name] = value
    return original


def _bounce(
    body: str,
    original: MIMEText | None = None,
    sender: str = "MAILER-DAEMON@mx.example.net",
    subject: str = "failure notice",
) -> bytes:
    text = MIMEText(body)
    message = MIMEMultipart("mixed") if original is not None else text
    if original is not None:
        message.attach(text)
        message.attach(MIMEMessage(original))
    message["From"] = sender
    message["To"] = OUR_VERP
    message["Subject"] = subject
    return message.as_bytes()


def _addresses(data: bytes) -> list[str]:
    return [r.address for r in classify_message(data).recipients]


def _found(data: bytes) -> list[tuple[str, bool]]:
    return [(r.address, r.hard) for r in classify_message(data).recipients]


# Family 3: the original recipient or a list address is never taken for the failed one.


def test_a_list_address_of_the_returned_original_is_never_the_failed_one() -> None:
    original = _original(
        "members@lists.example.org",
        {
            "List-Id": "Members <members.lists.example.org>",
            "List-Post": "<mailto:members@lists.example.org>",
            "List-Unsubscribe": "<mailto:leave-members@lists.example.org>",
            "Sender": "owner-members@lists.example.org",
        },
    )
    body = (
        "Your message to members@lists.example.org could not be delivered to one of\n"
        "its members. Unsubscribe with leave-members@lists.example.org.\n\n"
        "<kim@dept.example.edu>: 550 5.1.1 unknown user\n"
    )
    assert _found(_bounce(body, original)) == [("kim@dept.example.edu", True)]


def test_the_original_to_gives_way_when_the_text_names_another_failed_address() -> None:
    body = (
        "Your message to alias@a.example was forwarded and could not be delivered:\n\n"
        "<real@b.example>: Sorry, no mailbox here by that name.\n"
    )
    assert _addresses(_bounce(body, _original("alias@a.example"))) == ["real@b.example"]


def test_a_forwarded_alias_gives_the_address_the_error_is_about() -> None:
    body = (
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
        "<alias@a.example>: forwarded to <real@b.example>\n"
        "550 5.1.1 <real@b.example>... unknown user\n"
    )
    assert _found(_bounce(body)) == [("real@b.example", True)]


def test_an_expanded_alias_gives_the_address_the_error_is_about() -> None:
    body = '<real@b.example> (expanded from <alias@a.example>): unknown user: "real"\n'
    assert _addresses(_bounce(body)) == ["real@b.example"]


def test_a_greeting_to_the_bounce_recipient_is_never_the_failed_address() -> None:
    body = (
        "Sorry writer@shop.example.com. Your mail to the following recipients could not\n"
        "be delivered: <gone@isp.example>\n"
    )
    message = MIMEText(body)
    message["From"] = "MAILER-DAEMON@isp.example"
    message["To"] = "writer@shop.example.com"
    message["Subject"] = "Mail Delivery Problem"
    assert _addresses(message.as_bytes()) == ["gone@isp.example"]


# Family 5: old formats that put the failed address on a line of its own, in quotes, ...

FORMATS = {
    "aol": (
        "   ----- The following addresses had permanent fatal errors -----\n"
        "jo@aol.example\n\n   ----- Transcript of session follows -----\n"
        "... while talking to mx.aol.example.:\n<<< 550 MAILBOX NOT FOUND\n"
    ),
    "aol reason": (
        "   ----- The following addresses had permanent fatal errors -----\n"
        "jo@aol.example\n    (reason: 550 5.1.1 User Unknown)\n"
    ),
    "exchange list": (
        "This is an automatically generated Delivery Status Notification.\n\n"
        "Delivery to the following recipients failed.\n\n       jo@aol.example\n"
    ),
    "mdaemon": "Your message could not be delivered to: jo@aol.example\nUser unknown.\n",
    "user unknown": "User unknown: jo@aol.example\n",
    "your message to": "Your message to <jo@aol.example> was not delivered: no such user.\n",
    "groupwise quoted": (
        'The message that you sent was undeliverable to the following:\n\t"jo@aol.example"'
        " (user not found)\n"
    ),
    "lotus": (
        "Your message\n\n  Subject: Our news\n\nwas not delivered to:\n\n  jo@aol.example\n\n"
        "because:\n\n  User jo (jo@aol.example) not listed in Domino Directory\n"
    ),
    "original-recipient in text": (
        "Delivery failed.\n\nOriginal-Recipient: rfc822;jo@aol.example\n"
        "Action: failed\nStatus: 5.1.1\n"
    ),
    "qmail": (
        "Hi. This is the qmail-send program at mx.example.net.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        "<jo@aol.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n"
    ),
}


@pytest.mark.parametrize("body", FORMATS.values(), ids=list(FORMATS))
def test_an_old_format_names_its_failed_address(body: str) -> None:
    original = _original("jo@aol.example")
    assert _found(_bounce(body, original)) == [("jo@aol.example", True)]


@pytest.mark.parametrize("body", FORMATS.values(), ids=list(FORMATS))
def test_the_failed_address_is_found_without_the_returned_original(body: str) -> None:
    assert _found(_bounce(body)) == [("jo@aol.example", True)]


def test_postmaster_and_sender_addresses_near_the_failure_are_not_taken() -> None:
    body = (
        "This message was sent by writer@shop.example.com.\n"
        "It could not be delivered to: jo@aol.example (user unknown)\n"
        "Questions? Write to postmaster@mx.example.net.\n"
    )
    original = _original("jo@aol.example")
    original.replace_header("From", "writer@shop.example.com")
    assert _addresses(_bounce(body, original)) == ["jo@aol.example"]


@pytest.mark.parametrize("body", FORMATS.values(), ids=list(FORMATS))
def test_the_wording_alone_makes_an_old_format_a_bounce(body: str) -> None:
    data = _bounce(body, sender="Mail Router <router@corp.example>", subject="Re: Our news")
    assert _found(data) == [("jo@aol.example", True)]


def test_a_bare_screen_name_under_a_failure_heading_takes_the_daemons_domain() -> None:
    body = (
        "Sorry writer@shop.example.com. Your mail to the following recipients could not be\n"
        " delivered because they are not accepting mail with attachments:\n\tjo123\n"
    )
    message = MIMEText(body.replace("\n delivered", " delivered"))
    message["From"] = "Mail Delivery Subsystem <MAILER-DAEMON@aol.example>"
    message["To"] = "writer@shop.example.com"
    message["Subject"] = "Mail Delivery Problem"
    assert _addresses(message.as_bytes()) == ["jo123@aol.example"]


def test_a_list_address_in_the_originals_to_is_not_taken_when_the_text_names_none() -> None:
    original = _original("members@lists.example.org", {"List-Id": "<members.lists.example.org>"})
    assert _addresses(_bounce("Your message could not be delivered.\n", original)) == []
