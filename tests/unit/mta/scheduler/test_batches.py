"""Batch policy and state as the scheduler keeps it: the verdict for a due message, the
gate's statuses per (account, batch) and the messages a pause parks, and dropping."""

from __future__ import annotations

import pytest

from mta.core.events import Dropped
from mta.scheduler.batches import BatchGate, BatchStatus, Verdict, batch_verdict, drop_due
from queue_store.entries import Envelope, QueueEntry, RecipientState
from tests.unit.mta.scheduler.fakes import RecordingBus

DAY = 86_400.0


@pytest.mark.parametrize(
    ("status", "age", "verdict"),
    [
        (None, 0.0, "send"),
        (None, 10 * DAY, "send"),  # no batch status: the usual expiry applies elsewhere
        ("cancel", 0.0, "cancel"),
        ("cancel", 10 * DAY, "cancel"),
        ("pause", 0.0, "park"),
        ("pause", 3 * DAY - 1, "park"),
        ("pause", 3 * DAY, "expire"),  # paused past the queue lifetime
    ],
)
def test_verdict_for_a_due_message(
    status: BatchStatus | None, age: float, verdict: Verdict
) -> None:
    assert batch_verdict(status, 1000.0, 1000.0 + age, 3 * DAY) == verdict


def envelope(queue_id: str, batch_id: str | None = "b1", account_id: str = "a") -> Envelope:
    return Envelope(
        message_id=queue_id,
        queue_id=queue_id,
        account_id=account_id,
        sender="s@x.test",
        sender_domain="x.test",
        return_path_host="bounces.x.test",
        batch_id=batch_id,
    )


def test_statuses_are_per_account_and_batch() -> None:
    gate = BatchGate()
    gate.set(("a", "b1"), "pause")
    gate.set(("other", "b2"), "cancel")
    assert gate.status_of(envelope("q1")) == "pause"
    assert gate.status_of(envelope("q2", account_id="other")) is None  # same id, other tenant
    assert gate.status_of(envelope("q3", "b2", "other")) == "cancel"
    assert gate.status_of(envelope("q4", batch_id=None)) is None
    gate.set(("a", "b1"), None)
    assert gate.status_of(envelope("q1")) is None


@pytest.mark.parametrize("lifted_to", [None, "cancel"])
def test_lifting_a_pause_releases_what_it_parked(lifted_to: BatchStatus | None) -> None:
    gate = BatchGate()
    gate.set(("a", "b1"), "pause")
    gate.park(envelope("q2"))
    gate.park(envelope("q1"))
    gate.park(envelope("q9", "b9"))
    assert (gate.parked_by("q1"), gate.parked_by("q9"), gate.parked_by("q3")) == ("b1", "b9", None)
    assert gate.set(("a", "b1"), "pause") == []  # still paused: nothing released
    assert gate.set(("a", "b1"), lifted_to) == ["q1", "q2"]
    assert gate.parked_by("q1") is None and gate.parked_by("q9") == "b9"
    assert gate.set(("a", "b1"), None) == []


@pytest.mark.parametrize(
    ("verdict", "reason"),
    [
        ("cancel", "Cancelled scheduled send (batch b1)"),
        ("expire", "Expired: batch b1 stayed paused past the queue lifetime"),
    ],
)
def test_dropping_marks_and_reports_each_recipient(verdict: Verdict, reason: str) -> None:
    states = [RecipientState(email=f"r{i}@x.test", index=i) for i in range(3)]
    entry = QueueEntry(envelope=envelope("q1"), recipients=states)
    bus = RecordingBus()
    drop_due(entry, states[:2], verdict, bus, 1_700_000_000)  # type: ignore[arg-type]
    assert [s.status for s in states] == ["dropped", "dropped", "pending"]
    assert [(type(e), e.email, e.recipient_index) for e in bus.events] == [
        (Dropped, "r0@x.test", 0),
        (Dropped, "r1@x.test", 1),
    ]
    assert {e.reason for e in bus.events if isinstance(e, Dropped)} == {reason}
    assert {e.timestamp for e in bus.events} == {1_700_000_000}
    assert entry.pending == [states[2]]
