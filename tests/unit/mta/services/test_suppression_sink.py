"""The suppression sink's pure policy: which list each event puts its address on, and the net
effect of a batch (idempotent, in event order, unknown groups made global)."""

from __future__ import annotations

from typing import Any

import pytest

from mta.core.events import (
    Bounce,
    Click,
    Deferred,
    Delivered,
    Dropped,
    Event,
    GroupResubscribe,
    GroupUnsubscribe,
    Open,
    Processed,
    SpamReport,
    Unsubscribe,
)
from mta.services.suppression_sink import Placement, final_changes, placement

COMMON: dict[str, Any] = {"account_id": "acme", "message_id": "m1", "email": "Ada@Example.com"}


def bounce(status: str, kind: str = "bounce") -> Bounce:
    return Bounce(**COMMON, reason=f"550 {status} no", status=status, type=kind)


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (bounce("5.1.1"), Placement("bounces")),
        (bounce("5.2.2"), Placement("bounces")),
        (bounce("5.0.0"), Placement("bounces")),
        (bounce("5.1.2"), Placement("invalid_emails")),
        (bounce("5.1.3"), Placement("invalid_emails")),
        (bounce("5.1.10"), Placement("invalid_emails")),
        (bounce("5.7.1", "blocked"), Placement("blocks")),
        (bounce("4.4.7"), Placement("blocks")),  # expired in the queue
        (SpamReport(**COMMON), Placement("spam_reports")),
        (Unsubscribe(**COMMON), Placement("unsubscribes")),
        (GroupUnsubscribe(**COMMON, asm_group_id=7), Placement("group", 7)),
        (GroupResubscribe(**COMMON, asm_group_id=7), Placement("group", 7, remove=True)),
        (Deferred(**COMMON, response="451 later", status="4.2.0", attempt=1), None),
        (Delivered(**COMMON, response="250 ok"), None),
        (Dropped(**COMMON, reason="Bounced Address"), None),
        (Dropped(**COMMON, reason="Invalid"), None),
        (Processed(**COMMON), None),
        (Open(**COMMON), None),
        (Click(**COMMON, url="https://example.com/"), None),
    ],
)
def test_placement(event: Event, expected: Placement | None) -> None:
    assert placement(event) == expected


def test_batch_duplicates_collapse_to_the_last_cause() -> None:
    first, second = bounce("5.1.1"), bounce("5.1.1")
    adds, removes = final_changes([first, second, second], set())
    assert removes == set()
    assert list(adds) == [("acme", "bounces", 0, "ada@example.com")]
    row = adds[("acme", "bounces", 0, "ada@example.com")]
    assert row["event_id"] == second.event_id
    assert row["status"] == "5.1.1" and row["event_type"] == "bounce"


def test_group_unsubscribe_then_resubscribe_removes() -> None:
    events: list[Event] = [
        GroupUnsubscribe(**COMMON, asm_group_id=7),
        GroupResubscribe(**COMMON, asm_group_id=7),
    ]
    adds, removes = final_changes(events, {("acme", 7)})
    assert adds == {}
    assert removes == {("acme", "group", 7, "ada@example.com")}


def test_resubscribe_then_unsubscribe_adds() -> None:
    events: list[Event] = [
        GroupResubscribe(**COMMON, asm_group_id=7),
        GroupUnsubscribe(**COMMON, asm_group_id=7),
    ]
    adds, removes = final_changes(events, {("acme", 7)})
    assert list(adds) == [("acme", "group", 7, "ada@example.com")]
    assert removes == set()


def test_unsubscribe_from_a_group_the_account_lacks_is_global() -> None:
    adds, _ = final_changes([GroupUnsubscribe(**COMMON, asm_group_id=7)], {("other", 7)})
    assert list(adds) == [("acme", "unsubscribes", 0, "ada@example.com")]


def test_invalid_email_keeps_no_status() -> None:
    adds, _ = final_changes([bounce("5.1.2")], set())
    row = adds[("acme", "invalid_emails", 0, "ada@example.com")]
    assert row["status"] == "" and row["reason"] == "550 5.1.2 no"
