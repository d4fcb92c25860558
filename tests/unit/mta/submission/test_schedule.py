"""Scheduled sends at intake: the 72-hour limit with SendGrid's field paths, which send_at
a personalization gets, and what is carried onto the queue entry."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.submission.schedule import (
    MAX_AHEAD_SECONDS,
    TOO_FAR_AHEAD,
    check_schedule,
    check_send_at,
    require_batch,
    schedule,
    send_time,
)
from mta.submission.send_request.request import MailSend, decode_json
from queue_store.entries import Envelope, QueueEntry, RecipientState

NOW = 1_700_000_000.0


def request(**fields: Any) -> MailSend:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "a@example.com"}]}],
        "from": {"email": "s@example.com"},
        "subject": "s",
        "content": [{"type": "text/plain", "value": "x"}],
        **fields,
    }
    personalizations = body.pop("per_personalization", None)
    if personalizations is not None:
        body["personalizations"] = [
            {"to": [{"email": f"r{i}@example.com"}], **extra}
            for i, extra in enumerate(personalizations)
        ]
    decoded: MailSend = decode_json(msgspec.json.encode(body), MailSend)
    return decoded


def entry(count: int = 2) -> QueueEntry:
    envelope = Envelope(
        message_id="m",
        queue_id="m-0",
        account_id="a",
        sender="s@example.com",
        sender_domain="example.com",
        return_path_host="b.example.com",
        created_at=NOW,
    )
    states = [RecipientState(email=f"r{i}@example.com", index=i) for i in range(count)]
    return QueueEntry(envelope=envelope, recipients=states)


@pytest.mark.parametrize(
    ("send_at", "allowed"),
    [
        (None, True),
        (0, True),  # the past: sent at once
        (int(NOW) - 3600, True),
        (int(NOW), True),
        (int(NOW) + 60, True),
        (int(NOW) + MAX_AHEAD_SECONDS, True),  # exactly 72 hours ahead
        (int(NOW) + MAX_AHEAD_SECONDS + 1, False),
        (int(NOW) + 7 * 86400, False),
    ],
)
def test_send_at_may_be_at_most_72_hours_ahead(send_at: int | None, allowed: bool) -> None:
    if allowed:
        check_send_at(send_at, NOW, "send_at")
        return
    with pytest.raises(ValidationError) as raised:
        check_send_at(send_at, NOW, "send_at")
    assert (raised.value.message, raised.value.field) == (TOO_FAR_AHEAD, "send_at")


def test_too_far_ahead_names_the_field_that_is() -> None:
    late = int(NOW) + MAX_AHEAD_SECONDS + 10
    with pytest.raises(ValidationError) as top:
        check_schedule(request(send_at=late), NOW)
    assert top.value.field == "send_at"
    with pytest.raises(ValidationError) as inner:
        check_schedule(request(per_personalization=[{}, {"send_at": late}]), NOW)
    assert inner.value.field == "personalizations.1.send_at"
    assert inner.value.message == "Scheduling more than 72 hours in advance is forbidden."
    check_schedule(request(send_at=int(NOW) + 60, per_personalization=[{"send_at": 5}]), NOW)


def test_the_personalization_send_at_wins() -> None:
    mail = request(send_at=100, per_personalization=[{}, {"send_at": 200}, {"send_at": 0}])
    assert [send_time(mail, p) for p in mail.personalizations] == [100, 200, 0]
    plain = request()
    assert send_time(plain, plain.personalizations[0]) is None


def test_a_future_time_holds_every_first_attempt_until_it() -> None:
    scheduled = entry()
    schedule(scheduled, int(NOW) + 30, "b1", NOW)
    assert scheduled.envelope.send_at == int(NOW) + 30
    assert scheduled.envelope.batch_id == "b1"
    assert [s.next_attempt_at for s in scheduled.recipients] == [NOW + 30] * 2
    assert scheduled.envelope.lifetime_start == NOW + 30


@pytest.mark.parametrize("send_at", [None, 0, int(NOW) - 1, int(NOW)])
def test_now_or_the_past_sends_at_once(send_at: int | None) -> None:
    immediate = entry()
    schedule(immediate, send_at, None, NOW)
    assert immediate.envelope.send_at is None and immediate.envelope.batch_id is None
    assert [s.next_attempt_at for s in immediate.recipients] == [0.0, 0.0]


class Batches:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def require(self, account_id: str, batch_id: str) -> None:
        self.asked.append((account_id, batch_id))
        if batch_id != "known":
            raise ValidationError("invalid batch id", field="batch_id")


async def test_a_batch_id_must_be_one_the_account_created() -> None:
    batches = Batches()
    await require_batch(batches, "a", None)
    await require_batch(batches, "a", "known")
    with pytest.raises(ValidationError) as raised:
        await require_batch(batches, "a", "made-up")
    assert raised.value.field == "batch_id"
    assert batches.asked == [("a", "known"), ("a", "made-up")]
    with pytest.raises(ValidationError):
        await require_batch(None, "a", "known")  # no batch service: no batch is known
