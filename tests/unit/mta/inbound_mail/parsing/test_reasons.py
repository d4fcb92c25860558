"""Inbound bounce policy: reason, SendGrid classification and the hard verdicts."""

from __future__ import annotations

import pytest

from mta.inbound_mail.parsing.providers import provider_reason, reporter_reason
from mta.inbound_mail.parsing.reasons import (
    best_status,
    classify,
    is_hard,
    reason_of,
    sisimai_hard,
    smtp_command,
)


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.1.1", "550 5.1.1 <a@example.net>: Recipient address rejected: User unknown",
         ("Invalid Address", "bounce")),
        ("5.0.0", "550 No such user here", ("Invalid Address", "bounce")),
        ("5.1.2", "", ("Invalid Address", "bounce")),
        ("5.0.0", "Host or domain name not found", ("Invalid Address", "bounce")),
        ("5.2.2", "552 5.2.2 Mailbox full", ("Mailbox Unavailable", "bounce")),
        ("5.0.0", "552 Requested mail action aborted: exceeded storage allocation",
         ("Mailbox Unavailable", "bounce")),
        ("4.2.2", "452 4.2.2 The email account is over quota", ("Mailbox Unavailable", "bounce")),
        ("5.0.0", "554 Message rejected as spam", ("Reputation", "blocked")),
        ("5.7.1", "554 5.7.1 Service unavailable; client host blocked using Spamhaus",
         ("Reputation", "blocked")),
        ("5.0.0", "550 Your IP is listed in a blacklist", ("Reputation", "blocked")),
        ("5.0.0", "550 Poor sender reputation", ("Reputation", "blocked")),
        ("4.7.0", "421 4.7.0 Rate limit exceeded, try again later",
         ("Frequency or Volume Too High", "blocked")),
        ("4.0.0", "421 Too many connections from your IP",
         ("Frequency or Volume Too High", "blocked")),
        ("5.3.4", "552 5.3.4 Message too big for system", ("Content", "bounce")),
        ("5.6.0", "554 5.6.0 Invalid message", ("Content", "bounce")),
        ("4.4.7", "Delivery time expired", ("Technical Failure", "bounce")),
        ("4.4.1", "Connection timed out", ("Technical Failure", "bounce")),
        ("5.0.0", "", ("Unclassified", "bounce")),
        ("", "something odd happened", ("Unclassified", "bounce")),
    ],
)  # fmt: skip
def test_classify(status: str, diagnostic: str, expected: tuple[str, str]) -> None:
    assert classify(status, diagnostic) == expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.1.1", "", "user unknown"),
        ("5.0.0", "mailbox is full", "mailbox full"),
        ("5.1.1", "550 5.1.1 mailbox full", "mailbox full"),  # the specific phrase wins
        ("5.1.6", "", "has moved"),
        ("5.1.10", "", "not accept"),
        ("5.0.0", "an MX or SRV record indicated no SMTP service", "not accept"),
        ("5.4.4", "", "host unknown"),
        ("4.0.0", "Domain name not found", "network error"),  # a DNS failure for now
        ("5.0.0", "Host not found, try again", "network error"),
        ("4.4.7", "", "expired"),
        ("5.0.0", "retry timeout exceeded", "expired"),
        ("5.7.26", "Unauthenticated email is not accepted due to DMARC policy", "auth failure"),
        ("5.0.0", "", "undefined"),
        ("5.1.0", "550 #5.1.0 Address rejected.", "user unknown"),  # 5.1.0: address status
        ("5.0.0", "553 mx.example.net does not exist", "host unknown"),  # a host, not a user
        ("5.0.0", "550 <a@example.net> does not exist.", "user unknown"),
        ("5.0.0", "550 : User unknown", "filtered"),  # au (KDDI): the recipient's filter
        ("5.5.0", "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416",
         "user unknown"),
    ],
)  # fmt: skip
def test_reason_of(status: str, diagnostic: str, expected: str) -> None:
    assert reason_of(status, diagnostic) == expected


@pytest.mark.parametrize(
    ("status", "diagnostic", "expected"),
    [
        ("5.1.1", "smtp; 550 5.1.1 unknown", "5.1.1"),
        ("5.0.0 (permanent failure)", "550 5.1.1 <x@example.net> unknown", "5.1.1"),
        ("5.0.0", "451 4.4.1 no answer", "5.0.0"),  # a class mismatch keeps the DSN's
        ("", "550-5.7.26 DMARC", "5.7.26"),
        ("", "552 Requested action aborted", "5.0.0"),
        ("", "421 try later", "4.0.0"),
        ("", "no numbers at all", ""),
        ("5.1.10", "", "5.1.10"),
        ("2.6.0", "250 ok", "2.6.0"),
    ],
)
def test_best_status(status: str, diagnostic: str, expected: str) -> None:
    assert best_status(status, diagnostic) == expected


@pytest.mark.parametrize(
    ("action", "status", "reason", "expected"),
    [
        ("failed", "5.1.1", "user unknown", True),
        ("failed", "5.2.2", "mailbox full", True),
        ("delayed", "4.4.1", "network error", False),
        ("delayed", "4.4.7", "expired", False),  # delayed is soft whatever the cause
        ("failed", "4.4.7", "expired", True),  # expired: a failure even with 4.x.x
        ("failed", "4.0.0", "expired", True),
        ("failed", "4.2.2", "mailbox full", False),
        ("delivered", "2.0.0", "undefined", False),
        ("", "5.0.0", "undefined", True),
        ("", "4.0.0", "undefined", False),
    ],
)
def test_is_hard(action: str, status: str, reason: str, expected: bool) -> None:
    assert is_hard(action, status, reason) is expected


@pytest.mark.parametrize(
    ("reason", "status", "command", "expected"),
    [
        ("user unknown", "5.1.1", "", True),
        ("user unknown", "5.1.1", "DATA", True),  # the status says so
        ("user unknown", "5.0.0", "RCPT", True),
        ("user unknown", "5.0.0", "", True),
        ("user unknown", "5.0.0", "DATA", False),  # Sisimai: filtered
        ("host unknown", "5.1.2", "", True),
        ("has moved", "5.1.6", "", True),
        ("not accept", "5.1.10", "", True),
        ("not accept", "4.0.0", "", False),
        ("expired", "4.4.7", "", False),  # unlike our is_hard
        ("mailbox full", "5.2.2", "RCPT", False),
        ("blocked", "5.7.1", "RCPT", False),
        ("user unknown", "5.2.1", "", False),  # Sisimai reads 5.2.x as filtered...
        ("user unknown", "5.2.1", "RCPT", True),  # ...unless RCPT was refused
    ],
)
def test_sisimai_hard(reason: str, status: str, command: str, expected: bool) -> None:
    assert sisimai_hard(reason, status, command) is expected


@pytest.mark.parametrize(
    ("reason", "status", "command", "diagnostic", "expected"),
    [
        # a provider's own reply decides whatever the refused command
        ("user unknown", "5.0.0", "DATA",
         "554 delivery error: dd This user doesn't have a yahoo.com account (a@yahoo.com)", True),
        ("user unknown", "5.5.0", "DATA", "550 5.5.0 Invalid recipient. LPN007_416", True),
        ("filtered", "5.0.0", "", "550 : User unknown", False),
        ("user unknown", "5.0.0", "", "550 <a@ezweb.ne.jp>: User unknown", True),
        ("user unknown", "5.0.0", "DATA", "550 5.1.1 User unknown", False),
    ],
)  # fmt: skip
def test_sisimai_hard_with_provider_replies(
    reason: str, status: str, command: str, diagnostic: str, expected: bool
) -> None:
    assert sisimai_hard(reason, status, command, diagnostic) is expected


@pytest.mark.parametrize(
    ("diagnostic", "expected"),
    [
        ("550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]",
         "user unknown"),
        ("552 5.1.1 Boite du destinataire pleine. Recipient overquota. OFR_417 [417]",
         "mailbox full"),
        ("550 5.5.0 Le compte du destinataire est bloque. LPN007_426", "suspended"),
        ("421 Too many connections, slow down. LPN105_104", "rate limited"),
        ("550 mwinf5c04 ME Client host blocked for spamming issues. OFR006_102", "blocked"),
        ("Veuillez essayer plus tard. LPN003_109", ""),  # a code that names no cause
        ("550 : User unknown", "filtered"),
        ("550: : User unknown", "filtered"),
        ("550 <a@ezweb.ne.jp>: User unknown", ""),
        ("554 delivery error: dd This user doesn't have a yahoo.com account", "user unknown"),
        ("This user doesn't have a example.com account", ""),  # not Yahoo's "dd" reply
        ("550 5.1.1 User unknown", ""),
    ],
)  # fmt: skip
def test_provider_reason(diagnostic: str, expected: str) -> None:
    assert provider_reason(diagnostic) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("550 5.1.1 unknown (in reply to RCPT TO command)", "RCPT"),
        ("550 spam (in reply to end of DATA command)", "DATA"),
        ("SMTP error from remote mail server after MAIL FROM:<a@b.c>", "MAIL"),
        ("... while talking to mx:\n>>> DATA\n<<< 550 Unknown user", "DATA"),
        ("RCPT TO:<a@example.net> <<< 550 User unknown", "RCPT"),
        ("host said: 554 go away (in reply to EHLO command)", "HELO"),
        ("550 User unknown", ""),
        ("192.0.2.1 does not like recipient. Remote host said: 550 5.2.1 User Unknown", "RCPT"),
        ("Remote host said: 550 5.2.1 <a@example.jp>... User Unknown [RCPT_TO]", "RCPT"),
        ("Sorry, no SMTP connection got far enough; most progress was RCPT TO response", "RCPT"),
        ("Technical details: SMTP:RCPT host 192.0.2.8: 553 5.3.0 No such user here", "RCPT"),
    ],
)
def test_smtp_command(text: str, expected: str) -> None:
    assert smtp_command(text) == expected


@pytest.mark.parametrize(
    ("reporter", "diagnostic", "expected"),
    [
        ("inbound-smtp.us-west-2.amazonaws.com", "550 5.1.1 Mailbox does not exist", "filtered"),
        ("inbound-smtp.eu-west-1.amazonaws.com", "552 5.3.4 Message too large",
         "message too big"),
        ("inbound-smtp.us-east-1.amazonaws.com", "552 5.2.2 Mailbox full", "mailbox full"),
        ("inbound-smtp.us-east-1.amazonaws.com", "500 5.6.1 Message content rejected",
         "content error"),
        ("inbound-smtp.us-east-1.amazonaws.com", "450 4.0.0 Temporary failure", ""),
        ("mx.example.net", "550 5.1.1 Mailbox does not exist", ""),  # a real look-up
    ],
)  # fmt: skip
def test_reporter_reason(reporter: str, diagnostic: str, expected: str) -> None:
    assert reporter_reason(reporter, diagnostic) == expected
