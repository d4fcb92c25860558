"""How the sender groups due outbox rows into POSTs within the global and per-webhook limits."""

from __future__ import annotations

from collections import Counter

import pytest

from config.settings import WebhookSettings
from mta.webhooks.jobs import plan_jobs

SETTINGS = WebhookSettings(per_webhook_concurrency=2, sendgrid_batch_size=3)


@pytest.mark.parametrize(
    ("candidates", "busy", "free", "jobs"),
    [
        ([], {}, 10, []),
        ([("r1", "a", "scaisend")], {}, 10, [["r1"]]),
        # One row a POST, at most two POSTs to one webhook; the third waits.
        (
            [("r1", "a", "scaisend"), ("r2", "a", "scaisend"), ("r3", "a", "scaisend")],
            {},
            10,
            [["r1"], ["r2"]],
        ),
        # A webhook already posting twice gets nothing; another still gets its turn.
        ([("r1", "a", "scaisend"), ("r2", "b", "scaisend")], {"a": 2}, 10, [["r2"]]),
        ([("r1", "a", "scaisend"), ("r2", "b", "scaisend")], {"a": 1}, 10, [["r1"], ["r2"]]),
        # The global limit.
        ([("r1", "a", "scaisend"), ("r2", "b", "scaisend")], {}, 1, [["r1"]]),
        ([("r1", "a", "scaisend")], {}, 0, []),
        # SendGrid format: rows of one webhook share a POST up to the batch size.
        (
            [(f"r{i}", "s", "sendgrid") for i in range(1, 8)],
            {},
            10,
            [["r1", "r2", "r3"], ["r4", "r5", "r6"]],
        ),
        (
            [("r1", "s", "sendgrid"), ("r2", "a", "scaisend"), ("r3", "s", "sendgrid")],
            {},
            10,
            [["r1", "r3"], ["r2"]],
        ),
        ([("r1", "s", "sendgrid"), ("r2", "s", "sendgrid")], {"s": 2}, 10, []),
    ],
)
def test_plan_jobs(
    candidates: list[tuple[str, str, str]], busy: dict[str, int], free: int, jobs: list[list[str]]
) -> None:
    assert plan_jobs(candidates, Counter(busy), SETTINGS, free) == jobs
