"""What one delivery outcome means for one recipient: a Delivered, Deferred or Bounce event
(a transient failure past the queue lifetime bounces with 4.4.7)."""

from __future__ import annotations

from typing import Any

from mta.core.events import Bounce, Deferred, Delivered, Event, about
from mta.core.model import Outcome
from mta.delivery.classify import classify_bounce
from queue_store.entries import QueueEntry, RecipientState, SmtpReply


def outcome_event(
    entry: QueueEntry, state: RecipientState, outcome: Outcome, is_expired: bool, timestamp: int
) -> Event:
    """The event for one recipient's outcome, stamped `timestamp` (Unix seconds)."""
    common = about(entry.envelope, state)
    common["timestamp"] = timestamp
    common.update(session_fields(outcome))
    reply = outcome.reply
    if reply.code < 400:
        return Delivered(**common, response=reply.line(), attempt=state.attempts)
    if reply.transient and not is_expired:
        return Deferred(
            **common, response=reply.line(), status=reply.enhanced, attempt=state.attempts
        )
    if reply.transient:
        reply = SmtpReply(
            reply.code, "4.4.7", f"message expired in queue; last error: {reply.line()}"
        )
    classification, kind = classify_bounce(reply)
    return Bounce(
        **common,
        reason=reply.line(),
        status=reply.enhanced,
        type=kind,
        bounce_classification=classification,
        attempt=state.attempts,
    )


def session_fields(outcome: Outcome) -> dict[str, Any]:
    """What every outcome event records of the SMTP session: the MX host, our source
    address and the TLS in use (empty when no session was made)."""
    return {
        "mx": outcome.mx,
        "ip": outcome.ip,
        "tls": outcome.tls,
        "tls_version": outcome.tls_version,
        "tls_cipher": outcome.tls_cipher,
    }
