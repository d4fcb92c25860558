"""Intake's drop policy: SendGrid's dropped reason for the lists an address is on, and what
each bypass setting skips (never a group unsubscribe, except bypass_list_management)."""

from __future__ import annotations

import msgspec
import pytest

from mta.submission.send_request.request import MailSend
from mta.submission.suppressed import Bypass, bypass_of, drop_reason

NONE = Bypass()
ALL = Bypass(everything=True)
SPAM = Bypass(spam=True)
BOUNCE = Bypass(bounce=True)
UNSUB = Bypass(unsubscribe=True)


@pytest.mark.parametrize(
    ("lists", "bypass", "reason"),
    [
        (set(), NONE, None),
        ({"bounces"}, NONE, "Bounced Address"),
        ({"invalid_emails"}, NONE, "Invalid"),
        ({"spam_reports"}, NONE, "Spam Reporting Address"),
        ({"unsubscribes"}, NONE, "Unsubscribed Address"),
        ({"group"}, NONE, "Unsubscribed Address"),
        ({"blocks"}, NONE, None),  # SendGrid does not suppress blocked addresses
        ({"bounces", "spam_reports"}, NONE, "Bounced Address"),
        ({"bounces"}, BOUNCE, None),
        ({"bounces", "spam_reports"}, BOUNCE, "Spam Reporting Address"),
        ({"invalid_emails"}, BOUNCE, "Invalid"),
        ({"spam_reports"}, SPAM, None),
        ({"spam_reports"}, BOUNCE, "Spam Reporting Address"),
        ({"unsubscribes"}, UNSUB, None),
        ({"group"}, UNSUB, "Unsubscribed Address"),
        ({"unsubscribes", "group"}, UNSUB, "Unsubscribed Address"),
        ({"bounces", "spam_reports", "unsubscribes", "group", "invalid_emails"}, ALL, None),
    ],
)
def test_drop_reason(lists: set[str], bypass: Bypass, reason: str | None) -> None:
    assert drop_reason(lists, bypass) == reason


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, NONE),
        ({"bypass_list_management": {"enable": True}}, ALL),
        ({"bypass_spam_management": {"enable": True}}, SPAM),
        ({"bypass_bounce_management": {"enable": True}}, BOUNCE),
        ({"bypass_unsubscribe_management": {"enable": True}}, UNSUB),
        ({"bypass_unsubscribe_management": {"enable": False}}, NONE),
    ],
)
def test_bypass_of(settings: dict[str, object], expected: Bypass) -> None:
    body = {"personalizations": [], "from": {"email": "a@example.com"}, "mail_settings": settings}
    assert bypass_of(msgspec.convert(body, MailSend)) == expected
