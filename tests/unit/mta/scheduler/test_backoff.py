"""Retry policy: jittered steps of the schedule, the last step repeating, and expiry."""

from __future__ import annotations

import random

import pytest

from mta.scheduler.backoff import expired, retry_delay

SCHEDULE = [60, 300, 900, 1800, 3600, 7200, 14400]


@pytest.mark.parametrize(
    ("attempts", "step"),
    [
        (0, 60),  # not yet failed: treated as the first step
        (1, 60),
        (2, 300),
        (3, 900),
        (4, 1800),
        (5, 3600),
        (6, 7200),
        (7, 14400),
        (8, 14400),  # the last step repeats
        (50, 14400),
    ],
)
def test_retry_delay_is_the_step_within_ten_percent(attempts: int, step: int) -> None:
    delays = [retry_delay(attempts, SCHEDULE, random.Random(seed)) for seed in range(200)]
    assert all(step * 0.9 <= delay <= step * 1.1 for delay in delays)
    # Jitter really spreads: both halves of the window are used.
    assert min(delays) < step * 0.97
    assert max(delays) > step * 1.03


@pytest.mark.parametrize(
    ("schedule", "attempts", "step"),
    [
        ([10], 1, 10),
        ([10], 5, 10),
        ([10, 20], 2, 20),
        ([10, 20], 3, 20),
    ],
)
def test_retry_delay_other_schedules(schedule: list[int], attempts: int, step: int) -> None:
    delay = retry_delay(attempts, schedule, random.Random(1))
    assert step * 0.9 <= delay <= step * 1.1


def test_retry_delay_is_reproducible_with_a_seeded_rng() -> None:
    assert retry_delay(3, SCHEDULE, random.Random(7)) == retry_delay(3, SCHEDULE, random.Random(7))


@pytest.mark.parametrize(
    ("created_at", "now", "max_lifetime", "is_expired"),
    [
        (1000.0, 1000.0, 259_200, False),
        (1000.0, 1000.0 + 259_199.9, 259_200, False),
        (1000.0, 1000.0 + 259_200, 259_200, True),
        (1000.0, 1000.0 + 300_000, 259_200, True),
        (1000.0, 900.0, 60, False),  # clock went backwards
        (1000.0, 1000.0, 0, True),
    ],
)
def test_expired(created_at: float, now: float, max_lifetime: int, is_expired: bool) -> None:
    assert expired(created_at, now, max_lifetime) is is_expired
