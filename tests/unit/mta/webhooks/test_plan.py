"""How the sender groups due outbox rows into POSTs: within the sender's room and each
webhook's, one row a POST in ScaiSend's format, and SendGrid batches by size and time."""

from __future__ import annotations

import pytest

from mta.webhooks.jobs import Batching, Candidate, Plan, plan_jobs

BATCH = Batching(size=3, seconds=1.0)
NOW = 1000.0
NEW_ROOM = 2  # a webhook the sender holds nothing for yet


def rows(*specs: tuple[str, str, str]) -> list[Candidate]:
    """(row id, webhook id, format), each made long enough ago to be posted at once."""
    return [Candidate(row, hook, fmt, NOW - 5) for row, hook, fmt in specs]


@pytest.mark.parametrize(
    ("candidates", "room", "free", "jobs"),
    [
        ([], {}, 10, []),
        (rows(("r1", "a", "scaisend")), {}, 10, [["r1"]]),
        # One row a POST, at most the webhook's room; the third waits.
        (
            rows(("r1", "a", "scaisend"), ("r2", "a", "scaisend"), ("r3", "a", "scaisend")),
            {},
            10,
            [["r1"], ["r2"]],
        ),
        # A webhook with no room gets nothing; another still gets its turn.
        (rows(("r1", "a", "scaisend"), ("r2", "b", "scaisend")), {"a": 0}, 10, [["r2"]]),
        (rows(("r1", "a", "scaisend"), ("r2", "b", "scaisend")), {"a": 1}, 10, [["r1"], ["r2"]]),
        # A webhook the sender paces up gets more room than a new one.
        (
            rows(*[(f"r{i}", "a", "scaisend") for i in range(5)]),
            {"a": 4},
            10,
            [[f"r{i}"] for i in range(4)],
        ),
        # The sender's own limit.
        (rows(("r1", "a", "scaisend"), ("r2", "b", "scaisend")), {}, 1, [["r1"]]),
        (rows(("r1", "a", "scaisend")), {}, 0, []),
        # SendGrid format: rows of one webhook share a POST up to the batch size.
        (
            rows(*[(f"r{i}", "s", "sendgrid") for i in range(1, 8)]),
            {},
            10,
            [["r1", "r2", "r3"], ["r4", "r5", "r6"]],
        ),
        (
            rows(("r1", "s", "sendgrid"), ("r2", "a", "scaisend"), ("r3", "s", "sendgrid")),
            {},
            10,
            [["r1", "r3"], ["r2"]],
        ),
        (rows(("r1", "s", "sendgrid"), ("r2", "s", "sendgrid")), {"s": 0}, 10, []),
    ],
)
def test_plan_jobs(
    candidates: list[Candidate], room: dict[str, int], free: int, jobs: list[list[str]]
) -> None:
    assert plan_jobs(candidates, room, NEW_ROOM, free, BATCH, NOW).jobs == jobs


def test_a_sendgrid_batch_not_full_waits_for_its_oldest_row_to_be_a_second_old() -> None:
    young = [Candidate("r1", "s", "sendgrid", NOW - 0.4), Candidate("r2", "s", "sendgrid", NOW)]
    assert plan_jobs(young, {}, NEW_ROOM, 10, BATCH, NOW) == Plan([], hold_until=NOW + 0.6)
    assert plan_jobs(young, {}, NEW_ROOM, 10, BATCH, NOW + 0.6).jobs == [["r1", "r2"]]


def test_a_full_sendgrid_batch_goes_at_once_and_only_the_rest_waits() -> None:
    fresh = [Candidate(f"r{i}", "s", "sendgrid", NOW) for i in range(4)]
    plan = plan_jobs(fresh, {}, NEW_ROOM, 10, BATCH, NOW)
    assert plan == Plan([["r0", "r1", "r2"]], hold_until=NOW + 1.0)


def test_scaisend_rows_never_wait() -> None:
    fresh = [Candidate("r1", "a", "scaisend", NOW)]
    assert plan_jobs(fresh, {}, NEW_ROOM, 10, BATCH, NOW) == Plan([["r1"]])
