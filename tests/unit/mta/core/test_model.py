"""Shared value types: ids, SMTP replies, queue entries."""

from __future__ import annotations

import re
import time

import pytest

import mta.core.model
from mta.core.model import id_time, new_id
from queue_store.entries import Envelope, QueueEntry, RecipientState, SmtpReply


def test_new_id_shape() -> None:
    assert re.fullmatch(r"[0-9a-f]{27}", new_id())


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        (1_700_000_000.000, 1_700_000_000.001),
        (1_700_000_000.999, 1_700_000_001.000),
        (1_000_000_000.0, 4_000_000_000.0),
        (0.0, 0.001),
    ],
)
def test_new_id_sorts_by_time(
    monkeypatch: pytest.MonkeyPatch, earlier: float, later: float
) -> None:
    clock = iter([earlier, later])
    monkeypatch.setattr(mta.core.model.time, "time", lambda: next(clock))
    first, second = new_id(), new_id()
    assert first < second
    assert first[:11] == f"{int(earlier * 1000):011x}"


def test_new_id_made_later_sorts_later() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_id())
        time.sleep(0.002)
    assert ids == sorted(ids)


def test_new_id_is_unique() -> None:
    ids = {new_id() for _ in range(10_000)}
    assert len(ids) == 10_000


@pytest.mark.parametrize(
    ("reply", "line", "transient", "permanent"),
    [
        (SmtpReply(250, "2.0.0", "Ok"), "250 2.0.0 Ok", False, False),
        (SmtpReply(250, "2.0.0", ""), "250 2.0.0", False, False),
        (SmtpReply(354, "", "go ahead"), "354  go ahead", False, False),
        (SmtpReply(400, "4.0.0", "x"), "400 4.0.0 x", True, False),
        (SmtpReply(451, "4.4.3", "DNS lookup failed"), "451 4.4.3 DNS lookup failed", True, False),
        (SmtpReply(499, "4.9.9", "x"), "499 4.9.9 x", True, False),
        (SmtpReply(500, "5.5.2", "Syntax"), "500 5.5.2 Syntax", False, True),
        (SmtpReply(550, "5.1.1", "User unknown"), "550 5.1.1 User unknown", False, True),
        (SmtpReply(556, "5.1.10", "null MX"), "556 5.1.10 null MX", False, True),
    ],
)
def test_smtp_reply(reply: SmtpReply, line: str, transient: bool, permanent: bool) -> None:
    assert reply.line() == line
    assert reply.transient is transient
    assert reply.permanent is permanent


def test_queue_entry_pending() -> None:
    envelope = Envelope(
        message_id="m",
        queue_id="q",
        account_id="a",
        sender="s@example.com",
        sender_domain="example.com",
        return_path_host="bounces.example.com",
    )
    states = [
        RecipientState(email="a@x.example", index=0),
        RecipientState(email="b@x.example", index=1, status="delivered"),
        RecipientState(email="c@x.example", index=2, status="bounced"),
        RecipientState(email="d@x.example", index=3, status="expired"),
        RecipientState(email="e@x.example", index=4),
    ]
    entry = QueueEntry(envelope=envelope, recipients=states)
    assert [s.index for s in entry.pending] == [0, 4]


def test_new_id_takes_its_time_from_the_caller() -> None:
    """A part holding the clock stamps the id with the clock's time."""
    made = new_id(1_700_000_000.25)
    assert made[:11] == f"{1_700_000_000_250:011x}" and id_time(made) == 1_700_000_000.25
    assert new_id(1_700_000_000.0) < made
