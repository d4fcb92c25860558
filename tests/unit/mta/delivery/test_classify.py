"""Reply parsing (enhanced status codes) and SendGrid's bounce classification."""

from __future__ import annotations

import pytest

from mta.delivery.classify import classify_bounce, reply_from
from queue_store.entries import SmtpReply


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (250, "2.0.0 Ok: queued as 4Xyz", SmtpReply(250, "2.0.0", "Ok: queued as 4Xyz")),
        (
            550,
            "5.1.1 <a@example.com>: User unknown",
            SmtpReply(550, "5.1.1", "<a@example.com>: User unknown"),
        ),
        (
            556,
            "5.1.10 Recipient address has null MX",
            SmtpReply(556, "5.1.10", "Recipient address has null MX"),
        ),
        (452, "4.2.2 Mailbox full", SmtpReply(452, "4.2.2", "Mailbox full")),
        (554, "5.7.1", SmtpReply(554, "5.7.1", "")),
        # No enhanced code: one is made up from the class of the basic code.
        (250, "Ok", SmtpReply(250, "2.0.0", "Ok")),
        (421, "Service not available", SmtpReply(421, "4.0.0", "Service not available")),
        (550, "User unknown", SmtpReply(550, "5.0.0", "User unknown")),
        (550, "", SmtpReply(550, "5.0.0", "")),
        # Not an enhanced code: too many digits, missing part, bad class, not at the start.
        (550, "5.1.1000 nope", SmtpReply(550, "5.0.0", "5.1.1000 nope")),
        (550, "5.1 nope", SmtpReply(550, "5.0.0", "5.1 nope")),
        (550, "3.1.1 nope", SmtpReply(550, "5.0.0", "3.1.1 nope")),
        (550, "User 5.1.1 unknown", SmtpReply(550, "5.0.0", "User 5.1.1 unknown")),
        # Whitespace, multi-line replies: collapsed to single spaces.
        (550, "  5.1.1   User\tunknown  ", SmtpReply(550, "5.1.1", "User unknown")),
        (
            550,
            "5.1.1 The email account that you tried to reach does not exist.\n"
            "   Please try double-checking the recipient's address.\r\n",
            SmtpReply(
                550,
                "5.1.1",
                "The email account that you tried to reach does not exist. "
                "Please try double-checking the recipient's address.",
            ),
        ),
        (
            451,
            "\n4.7.1\nGreylisted,\n   try later",
            SmtpReply(451, "4.7.1", "Greylisted, try later"),
        ),
    ],
)
def test_reply_from(code: int, text: str, expected: SmtpReply) -> None:
    assert reply_from(code, text) == expected


@pytest.mark.parametrize(
    ("enhanced", "classification", "kind"),
    [
        ("5.1.1", "Invalid Address", "bounce"),
        ("5.1.2", "Invalid Address", "bounce"),
        ("5.1.10", "Invalid Address", "bounce"),
        ("5.2.2", "Mailbox Unavailable", "bounce"),
        ("5.2.1", "Mailbox Unavailable", "bounce"),
        ("5.2.0", "Mailbox Unavailable", "bounce"),
        ("5.3.4", "Content", "bounce"),
        ("5.6.0", "Content", "bounce"),
        ("5.6.3", "Content", "bounce"),
        ("5.7.1", "Reputation", "blocked"),
        ("5.7.26", "Reputation", "blocked"),
        ("5.4.4", "Technical Failure", "bounce"),
        ("5.4.7", "Technical Failure", "bounce"),
        ("5.5.0", "Technical Failure", "bounce"),
        ("5.3.0", "Technical Failure", "bounce"),
        ("5.3.2", "Technical Failure", "bounce"),
        ("4.4.7", "Technical Failure", "bounce"),
        ("4.2.2", "Technical Failure", "bounce"),
        ("5.0.0", "Unclassified", "bounce"),
        ("5.9.9", "Unclassified", "bounce"),
        ("", "Unclassified", "bounce"),
    ],
)
def test_classify_bounce(enhanced: str, classification: str, kind: str) -> None:
    assert classify_bounce(SmtpReply(550, enhanced, "text")) == (classification, kind)


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        (550, "5.1.1 User unknown", ("Invalid Address", "bounce")),
        (554, "5.7.1 Message rejected as spam", ("Reputation", "blocked")),
        (552, "5.3.4 Message too big", ("Content", "bounce")),
        (550, "Rejected", ("Unclassified", "bounce")),
    ],
)
def test_classify_parsed_replies(code: int, text: str, expected: tuple[str, str]) -> None:
    assert classify_bounce(reply_from(code, text)) == expected
