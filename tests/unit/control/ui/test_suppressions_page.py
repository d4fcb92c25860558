"""The Suppressions page's pure parts: why an entry is on its list, in words, with what else
it stores; and the addresses typed into an add form."""

from __future__ import annotations

import pytest

from control.ui.pages.suppressions import MAX_ADDED, addresses_typed, row_of, why_of
from mta.core.errors import ValidationError
from mta.services.suppressions import Listed


def entry(event_type: str | None = "bounce", **fields: str) -> Listed:
    base = {"reason": "", "status": "", "ip": "", "message_id": None}
    return Listed(created=0, email="a@x.io", event_type=event_type, **{**base, **fields})


@pytest.mark.parametrize(
    ("name", "found", "why"),
    [
        ("bounces", entry(reason="550 5.1.1 no such user"), "550 5.1.1 no such user"),
        ("bounces", entry(), "Bounced"),
        ("blocks", entry("bounce"), "Blocked"),
        ("invalid_emails", entry(reason="550 5.1.2 no such domain"), "550 5.1.2 no such domain"),
        ("spam_reports", entry("spam_report"), "Marked as spam by the recipient"),
        ("unsubscribes", entry("unsubscribe"), "Unsubscribed (link, one-click or mail)"),
        (
            "unsubscribes",
            entry("group_unsubscribe"),
            "Unsubscribed from a group this account does not have",
        ),
        ("group", entry("group_unsubscribe"), "Unsubscribed from this group"),
        ("unsubscribes", entry(None), "Added by hand (API or dashboard)"),
    ],
)
def test_why_an_address_is_on_a_list(name: str, found: Listed, why: str) -> None:
    assert why_of(name, found) == why


def test_a_row_says_when_and_what_else_is_stored() -> None:
    found = entry("spam_report", ip="192.0.2.7", message_id="m1")
    row = row_of("spam_reports", found)
    assert row.when == "1970-01-01 00:00 UTC" and row.stamp == "1970-01-01T00:00:00+00:00"
    assert row.detail == "IP 192.0.2.7 · message m1"
    assert row_of("bounces", entry(status="5.1.1")).detail == "status 5.1.1"


def test_typed_addresses() -> None:
    assert addresses_typed(" a@x.io,b@x.io;\n c@x.io ") == ["a@x.io", "b@x.io", "c@x.io"]
    for text in ("", " ,\n", " ".join(["a@x.io"] * (MAX_ADDED + 1))):
        with pytest.raises(ValidationError) as raised:
            addresses_typed(text)
        assert raised.value.field == "recipient_emails"
