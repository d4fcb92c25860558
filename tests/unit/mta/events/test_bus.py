"""One message status from its recipients' statuses."""

from __future__ import annotations

import pytest

from mta.events.bus import aggregate_status


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["processed"], "processed"),
        (["delivered"], "delivered"),
        (["deferred"], "deferred"),
        (["bounced"], "bounced"),
        (["dropped"], "dropped"),
        (["delivered", "delivered"], "delivered"),
        (["bounced", "bounced"], "bounced"),
        # Anything still in flight wins: deferred before processed.
        (["delivered", "deferred"], "deferred"),
        (["delivered", "processed"], "processed"),
        (["processed", "deferred"], "deferred"),
        (["bounced", "processed", "delivered"], "processed"),
        (["dropped", "deferred"], "deferred"),
        # Settled and mixed: delivered if any was.
        (["delivered", "bounced"], "delivered"),
        (["bounced", "delivered", "dropped"], "delivered"),
        (["bounced", "dropped"], "not_delivered"),
        (["dropped", "bounced", "bounced"], "not_delivered"),
        ([], "not_delivered"),
    ],
)
def test_aggregate_status(statuses: list[str], expected: str) -> None:
    assert aggregate_status(statuses) == expected


@pytest.mark.parametrize(
    "statuses",
    [["delivered", "deferred", "bounced"], ["processed", "dropped", "delivered"]],
)
def test_aggregate_status_ignores_order(statuses: list[str]) -> None:
    assert aggregate_status(statuses) == aggregate_status(list(reversed(statuses)))
