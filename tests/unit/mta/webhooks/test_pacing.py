"""How a webhook's concurrency follows its receiver (additive increase, multiplicative
decrease) and how many claimed POSTs it may hold."""

from __future__ import annotations

import pytest

from mta.webhooks.pacing import Pace, PaceRule, capacity, first_pace, paced, room, wants_more

RULE = PaceRule(start=4, ceiling=8, slow_seconds=2.0)


@pytest.mark.parametrize(
    ("pace", "delivered", "seconds", "after"),
    [
        # `limit` fast successes in a row raise the limit by one.
        (Pace(4), True, 0.01, Pace(4, 1)),
        (Pace(4, 3), True, 0.01, Pace(5)),
        (Pace(1), True, 0.5, Pace(2)),
        # Never above the ceiling.
        (Pace(8, 7), True, 0.01, Pace(8)),
        # A failure, no answer, or a slow answer halves it, and starts the count again.
        (Pace(8, 5), False, 0.01, Pace(4)),
        (Pace(5), True, 2.0, Pace(2)),
        (Pace(4), True, 30.0, Pace(2)),
        # Never below one.
        (Pace(1), False, 0.01, Pace(1)),
    ],
)
def test_paced(pace: Pace, delivered: bool, seconds: float, after: Pace) -> None:
    assert paced(pace, RULE, delivered, seconds) == after


def test_a_fast_receiver_reaches_the_ceiling_and_one_failure_halves_it() -> None:
    pace = first_pace(RULE)
    answers = 0
    while pace.limit < RULE.ceiling:
        pace, answers = paced(pace, RULE, True, 0.01), answers + 1
    assert answers == 4 + 5 + 6 + 7  # one round of `limit` answers for each step
    assert paced(pace, RULE, False, 0.01) == Pace(4)


def test_the_first_limit_is_never_above_the_ceiling() -> None:
    assert first_pace(PaceRule(start=4, ceiling=2, slow_seconds=1.0)) == Pace(2)


def test_room_and_when_to_claim_again() -> None:
    pace = Pace(2)
    assert capacity(pace) == 64
    assert room(pace, 0) == 64 and room(pace, 60) == 4 and room(pace, 70) == 0
    assert not wants_more(pace, 33) and wants_more(pace, 32)
    # A SendGrid-format webhook holds fewer POSTs: each carries a batch of events.
    assert capacity(pace, batched=True) == 8 and room(pace, 6, batched=True) == 2
