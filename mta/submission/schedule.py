"""Scheduled sends at intake: the `send_at` limits (at most 72 hours ahead; a past time sends
at once), which time a personalization gets, and carrying time and batch onto a queue entry.
The message is spooled at once either way; the scheduler holds it until its time."""

from __future__ import annotations

from typing import Protocol

from mta.core.errors import ValidationError
from mta.submission.send_request.request import MailSend, Personalization
from queue_store.entries import QueueEntry

MAX_AHEAD_SECONDS = 72 * 3600
TOO_FAR_AHEAD = "Scheduling more than 72 hours in advance is forbidden."  # SendGrid's words


class BatchCheck(Protocol):
    async def require(self, account_id: str, batch_id: str) -> None:
        """Raises ValidationError unless the account created this batch id."""
        ...


def check_send_at(send_at: int | None, now: float, field: str) -> None:
    if send_at is not None and send_at > now + MAX_AHEAD_SECONDS:
        raise ValidationError(TOO_FAR_AHEAD, field=field)


def check_schedule(request: MailSend, now: float) -> None:
    """The request's and every personalization's send_at are at most 72 hours ahead."""
    check_send_at(request.send_at, now, "send_at")
    for index, personalization in enumerate(request.personalizations):
        check_send_at(personalization.send_at, now, f"personalizations.{index}.send_at")


def send_time(request: MailSend, personalization: Personalization) -> int | None:
    """The personalization's send_at wins over the request's."""
    return request.send_at if personalization.send_at is None else personalization.send_at


def schedule(entry: QueueEntry, send_at: int | None, batch_id: str | None, now: float) -> None:
    """Stamp the entry accepted `now`, put the batch on the envelope and, for a time ahead,
    hold every first attempt until it (in the spool: a restart keeps the time, as it keeps
    retry times)."""
    entry.envelope.created_at = now
    entry.envelope.batch_id = batch_id
    if send_at is None or send_at <= now:
        return
    entry.envelope.send_at = send_at
    for state in entry.recipients:
        state.next_attempt_at = float(send_at)


async def require_batch(batches: BatchCheck | None, account_id: str, batch_id: str | None) -> None:
    """A send naming a batch needs a batch id the account created (POST /v3/mail/batch)."""
    if batch_id is None:
        return
    if batches is None:
        raise ValidationError("invalid batch id", field="batch_id")
    await batches.require(account_id, batch_id)
