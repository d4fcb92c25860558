"""`outcome_event`: one delivery outcome becomes Delivered, Deferred or Bounce."""

from __future__ import annotations

import pytest

from mta.core.events import Bounce, Deferred, Delivered, stored_fields
from mta.core.model import Outcome
from mta.scheduler.outcomes import outcome_event
from queue_store.entries import Envelope, QueueEntry, RecipientState, SmtpReply


def _entry() -> tuple[QueueEntry, RecipientState]:
    envelope = Envelope(
        message_id="msg1",
        queue_id="q1",
        account_id="acct1",
        sender="s@example.com",
        sender_domain="example.com",
        return_path_host="bounces.example.com",
        categories=["receipts"],
        custom_args={"order": "42"},
    )
    state = RecipientState(email="rcpt@example.net", index=2, attempts=3)
    return QueueEntry(envelope=envelope, recipients=[state]), state


def _common(event: Delivered | Deferred | Bounce) -> tuple[object, ...]:
    assert event.timestamp == AT
    return (
        event.account_id,
        event.message_id,
        event.email,
        event.recipient_index,
        event.categories,
        event.custom_args,
    )


COMMON = ("acct1", "msg1", "rcpt@example.net", 2, ["receipts"], {"order": "42"})
AT = 1_700_000_000  # when the outcome came


@pytest.mark.parametrize("is_expired", [False, True])
def test_success_is_delivered(is_expired: bool) -> None:
    entry, state = _entry()
    outcome = Outcome(reply=SmtpReply(250, "2.0.0", "Ok: queued"), mx="mx.example.net", tls=True)
    event = outcome_event(entry, state, outcome, is_expired, AT)
    assert isinstance(event, Delivered)
    assert _common(event) == COMMON
    assert (event.response, event.mx, event.tls, event.attempt) == (
        "250 2.0.0 Ok: queued",
        "mx.example.net",
        True,
        3,
    )


@pytest.mark.parametrize(
    "reply",
    [SmtpReply(451, "4.7.1", "Greylisted"), SmtpReply(421, "4.4.2", "timeout")],
)
def test_transient_is_deferred(reply: SmtpReply) -> None:
    entry, state = _entry()
    event = outcome_event(entry, state, Outcome(reply=reply, mx="mx.example.net"), False, AT)
    assert isinstance(event, Deferred)
    assert _common(event) == COMMON
    assert (event.response, event.status, event.attempt, event.mx) == (
        reply.line(),
        reply.enhanced,
        3,
        "mx.example.net",
    )


@pytest.mark.parametrize(
    ("reply", "is_expired", "status", "kind", "classification"),
    [
        (SmtpReply(550, "5.1.1", "User unknown"), False, "5.1.1", "bounce", "Invalid Address"),
        (SmtpReply(550, "5.1.1", "User unknown"), True, "5.1.1", "bounce", "Invalid Address"),
        (SmtpReply(554, "5.7.1", "Spam"), False, "5.7.1", "blocked", "Reputation"),
        (SmtpReply(552, "5.2.2", "Full"), False, "5.2.2", "bounce", "Mailbox Unavailable"),
        (SmtpReply(556, "5.1.10", "null MX"), False, "5.1.10", "bounce", "Invalid Address"),
        (SmtpReply(550, "5.0.0", "No"), False, "5.0.0", "bounce", "Unclassified"),
    ],
)
def test_permanent_is_bounce(
    reply: SmtpReply, is_expired: bool, status: str, kind: str, classification: str
) -> None:
    entry, state = _entry()
    event = outcome_event(entry, state, Outcome(reply=reply, mx="mx.example.net"), is_expired, AT)
    assert isinstance(event, Bounce)
    assert _common(event) == COMMON
    assert (event.reason, event.status, event.type, event.bounce_classification) == (
        reply.line(),
        status,
        kind,
        classification,
    )
    assert (event.attempt, event.mx) == (3, "mx.example.net")


@pytest.mark.parametrize(
    "reply",
    [SmtpReply(451, "4.7.1", "Greylisted"), SmtpReply(451, "4.4.4", "no address found")],
)
def test_transient_after_expiry_bounces_with_4_4_7(reply: SmtpReply) -> None:
    entry, state = _entry()
    event = outcome_event(entry, state, Outcome(reply=reply, mx="mx.example.net"), True, AT)
    assert isinstance(event, Bounce)
    assert event.status == "4.4.7"
    assert event.reason == (
        f"{reply.code} 4.4.7 message expired in queue; last error: {reply.line()}"
    )
    assert (event.type, event.bounce_classification) == ("bounce", "Technical Failure")
    assert _common(event) == COMMON


@pytest.mark.parametrize(
    ("reply", "kind"),
    [(SmtpReply(451, "4.7.1", "Greylisted"), Deferred), (SmtpReply(550, "5.1.1", "No"), Bounce)],
)
def test_a_refusal_in_a_session_records_its_source_address_and_tls(
    reply: SmtpReply, kind: type[Deferred | Bounce]
) -> None:
    """The message page shows how each attempt went: over which TLS, from which address."""
    entry, state = _entry()
    outcome = Outcome(
        reply=reply,
        mx="mx.example.net",
        ip="192.0.2.25",
        tls=True,
        tls_version="TLSv1.3",
        tls_cipher="TLS_AES_128_GCM_SHA256",
    )
    event = outcome_event(entry, state, outcome, False, AT)
    assert isinstance(event, kind)
    assert (event.mx, event.ip, event.tls, event.tls_version, event.tls_cipher) == (
        "mx.example.net",
        "192.0.2.25",
        True,
        "TLSv1.3",
        "TLS_AES_128_GCM_SHA256",
    )
    assert stored_fields(event)["tls_version"] == "TLSv1.3"
