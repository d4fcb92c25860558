"""Webhook signing and the retry schedule of the webhook sender."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from mta.webhooks.jobs import next_attempt_delay, sign


@pytest.mark.parametrize(
    ("secret", "timestamp", "body"),
    [
        ("s3cret", "1700000000", '{"event":"delivered"}'),
        ("", "0", ""),
        ("k\u00e9y", "1700000001", '{"email":"j\u00f6rg@example.com"}'),
        ("x" * 100, "1", "a.b.c"),
    ],
)
def test_sign_is_hmac_sha256_of_timestamp_dot_body(secret: str, timestamp: str, body: str) -> None:
    expected = hmac.new(
        secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    signature = sign(secret, timestamp, body)
    assert signature == expected
    assert len(signature) == 64 and signature == signature.lower()


@pytest.mark.parametrize(
    ("changed"),
    [
        ("other", "1700000000", "{}"),
        ("s3cret", "1700000001", "{}"),
        ("s3cret", "1700000000", "{ }"),
    ],
)
def test_sign_changes_with_every_input(changed: tuple[str, str, str]) -> None:
    assert sign("s3cret", "1700000000", "{}") != sign(*changed)


SCHEDULE = [60, 300, 900, 3600, 7200]


@pytest.mark.parametrize(
    ("attempts", "delay"),
    [(1, 60), (2, 300), (3, 900), (4, 3600), (5, 7200), (6, None), (7, None), (100, None)],
)
def test_next_attempt_delay(attempts: int, delay: int | None) -> None:
    assert next_attempt_delay(attempts, SCHEDULE) == delay


@pytest.mark.parametrize(
    ("schedule", "attempts", "delay"),
    [([], 1, None), ([5], 1, 5), ([5], 2, None)],
)
def test_next_attempt_delay_other_schedules(
    schedule: list[int], attempts: int, delay: int | None
) -> None:
    assert next_attempt_delay(attempts, schedule) == delay
