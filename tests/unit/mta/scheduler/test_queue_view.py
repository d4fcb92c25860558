"""How the operator's queue commands treat scheduled sends: `retry --all` leaves one not yet
due to its time, and `scaisend queue list` shows its state, when it is due and its batch."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from mta.scheduler.queue_admin import QueueState, scheduled_ahead
from mta.server.cli.queue import STATES, message_line
from queue_store.entries import Envelope, QueueEntry, RecipientState

NOW = 1_700_000_000.0


def entry(send_at: int | None, attempts: int) -> QueueEntry:
    envelope = Envelope(
        message_id="m",
        queue_id="q",
        account_id="a",
        sender="s@x.test",
        sender_domain="x.test",
        return_path_host="b.x.test",
        send_at=send_at,
    )
    return QueueEntry(
        envelope=envelope, recipients=[RecipientState(email="r@y.test", index=0, attempts=attempts)]
    )


@pytest.mark.parametrize(
    ("send_at", "attempts", "ahead"),
    [
        (None, 0, False),  # not scheduled
        (int(NOW) + 60, 0, True),
        (int(NOW) + 60, 1, False),  # tried already (an operator's retry): a retry now
        (int(NOW), 0, False),  # its time has come
        (int(NOW) - 60, 2, False),
    ],
)
def test_scheduled_ahead(send_at: int | None, attempts: int, ahead: bool) -> None:
    assert scheduled_ahead(entry(send_at, attempts), NOW) is ahead


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({}, "q1  deferred   s@x.test"),
        ({"due_at": NOW - 5}, "q1  deferred   s@x.test"),
        ({"due_at": NOW + 90}, "q1  deferred   s@x.test  due=2023-11-14T22:14:50Z"),
        (
            {"state": "scheduled", "due_at": NOW + 90},
            "q1  scheduled  s@x.test  due=2023-11-14T22:14:50Z",
        ),
        ({"batch_id": "b1"}, "q1  deferred   s@x.test  batch=b1"),
        (
            {"state": "held", "batch_id": "b1", "held_by_batch": True},
            "q1  held       s@x.test  batch=b1 (paused)",
        ),
    ],
)
def test_list_line_shows_due_time_and_batch(fields: dict[str, Any], line: str) -> None:
    message = {"queue_id": "q1", "state": "deferred", "sender": "s@x.test", **fields}
    assert message_line(message, NOW) == line


def test_the_command_filters_by_every_state_the_queue_names() -> None:
    assert list(STATES) == list(get_args(QueueState))
