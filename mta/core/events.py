"""The event record: a tagged union on `event`, with the fields SendGrid's webhooks carry.

`webhook_payload` gives the JSON a receiver sees (custom args flattened, internal ids dropped);
`stored_fields` what the events table keeps, from which `stored_payload` gives that JSON again.
"""

from __future__ import annotations

from typing import Any

import msgspec

from mta.core.model import new_id, now
from queue_store.entries import Envelope, RecipientState


class EventBase(msgspec.Struct, tag_field="event", kw_only=True):
    account_id: str
    message_id: str
    email: str
    recipient_index: int = -1
    event_id: str = msgspec.field(default_factory=new_id)
    timestamp: int = msgspec.field(default_factory=now)
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)


class Processed(EventBase, tag="processed"):
    pass


class Dropped(EventBase, tag="dropped"):
    reason: str
    status: str = ""


class Delivered(EventBase, tag="delivered"):
    response: str
    ip: str = ""
    mx: str = ""
    tls: bool = False
    tls_version: str = ""
    tls_cipher: str = ""
    attempt: int = 1


class Deferred(EventBase, tag="deferred"):
    response: str
    status: str
    attempt: int
    mx: str = ""
    ip: str = ""
    # The session's TLS, when a reply came over one (what the message page shows).
    tls: bool = False
    tls_version: str = ""
    tls_cipher: str = ""


class Bounce(EventBase, tag="bounce"):
    reason: str
    status: str
    type: str = "bounce"
    bounce_classification: str = "Unclassified"
    attempt: int = 1
    mx: str = ""
    ip: str = ""  # our address, when the remote host refused it in a session
    tls: bool = False
    tls_version: str = ""
    tls_cipher: str = ""


class Engagement(EventBase, kw_only=True):
    """What a recipient did (opened, clicked, unsubscribed), seen by our tracking endpoints."""

    useragent: str = ""
    ip: str = ""


class Open(Engagement, tag="open"):
    machine_open: bool = False  # a privacy proxy fetched the pixel, not a person


class Click(Engagement, tag="click"):
    url: str
    url_offset: dict[str, Any] = msgspec.field(default_factory=dict)


class SpamReport(EventBase, tag="spam_report"):
    """A feedback-loop (ARF) complaint, or the simulator's complaint@."""

    feedback_type: str = "abuse"
    source: str = ""  # who reported: the reporting MTA or "simulator"


class Unsubscribe(Engagement, tag="unsubscribe"):
    """A global unsubscribe: by one-click link, by mailto, or by the simulator."""

    url: str = ""
    method: str = ""  # link | one-click | mailto | simulator


class GroupUnsubscribe(Engagement, tag="group_unsubscribe"):
    asm_group_id: int
    url: str = ""
    method: str = ""


class GroupResubscribe(Engagement, tag="group_resubscribe"):
    asm_group_id: int
    url: str = ""


Event = (
    Processed
    | Dropped
    | Delivered
    | Deferred
    | Bounce
    | Open
    | Click
    | SpamReport
    | Unsubscribe
    | GroupUnsubscribe
    | GroupResubscribe
)

EVENT_TYPES: frozenset[str] = frozenset(
    {
        "processed",
        "dropped",
        "delivered",
        "deferred",
        "bounce",
        "open",
        "click",
        "spam_report",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    }
)

# The message log status each event moves a recipient to.
RECIPIENT_STATUS = {
    "processed": "processed",
    "dropped": "dropped",
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
}

_INTERNAL = ("account_id", "recipient_index", "custom_args")


def about(envelope: Envelope, state: RecipientState) -> dict[str, Any]:
    """The fields every event about one queued recipient carries (its message, account,
    categories and custom args)."""
    return {
        "account_id": envelope.account_id,
        "message_id": envelope.message_id,
        "email": state.email,
        "recipient_index": state.index,
        "categories": envelope.categories,
        "custom_args": envelope.custom_args,
    }


def event_type(event: Event) -> str:
    return type(event).__struct_config__.tag  # type: ignore[return-value]


def event_fields(event: Event) -> dict[str, Any]:
    """All public fields of the event, tag included, as plain JSON-able values."""
    data: dict[str, Any] = msgspec.to_builtins(event)
    for name in _INTERNAL:
        data.pop(name, None)
    return data


def webhook_payload(event: Event) -> dict[str, Any]:
    """What the webhook receiver sees: custom args flattened at top level, reserved keys win."""
    data = event_fields(event)
    return {**event.custom_args, **data}


def stored_fields(event: Event) -> dict[str, Any]:
    """The `data` the events table keeps: the public fields and, when there are any, the
    custom args under their own key (so that a field never hides one)."""
    data = event_fields(event)
    if event.custom_args:
        data["custom_args"] = dict(event.custom_args)
    return data


def stored_payload(data: dict[str, Any]) -> dict[str, Any]:
    """The webhook payload of a stored event (`stored_fields`): custom args flattened at top
    level, reserved keys win. Rows stored before custom args were kept have none."""
    fields = {key: value for key, value in data.items() if key != "custom_args"}
    custom = data.get("custom_args")
    return {**custom, **fields} if isinstance(custom, dict) else fields
