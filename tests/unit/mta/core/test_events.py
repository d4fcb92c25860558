"""The event record and what a webhook receiver sees of it."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.core.events import (
    EVENT_TYPES,
    RECIPIENT_STATUS,
    Bounce,
    Deferred,
    Delivered,
    Dropped,
    Event,
    Processed,
    event_fields,
    event_type,
    webhook_payload,
)

BASE: dict[str, Any] = dict(
    account_id="acct-secret",
    message_id="msg1",
    email="rcpt@example.net",
    recipient_index=4,
    event_id="evt1",
    timestamp=1_700_000_000,
    categories=["receipts"],
)

EVENTS: list[tuple[Event, str]] = [
    (Processed(**BASE), "processed"),
    (Dropped(**BASE, reason="Bounced Address", status="5.1.1"), "dropped"),
    (Delivered(**BASE, response="250 2.0.0 Ok", mx="mx.example.net", tls=True), "delivered"),
    (Deferred(**BASE, response="451 4.7.1 Later", status="4.7.1", attempt=2), "deferred"),
    (Bounce(**BASE, reason="550 5.1.1 Unknown", status="5.1.1"), "bounce"),
]


@pytest.mark.parametrize(("event", "tag"), EVENTS)
def test_event_type_and_tag(event: Event, tag: str) -> None:
    assert event_type(event) == tag
    assert tag in EVENT_TYPES
    assert tag in RECIPIENT_STATUS
    assert event_fields(event)["event"] == tag
    assert webhook_payload(event)["event"] == tag


@pytest.mark.parametrize(("event", "tag"), EVENTS)
def test_payload_has_no_internal_fields(event: Event, tag: str) -> None:
    payload = webhook_payload(event)
    assert "account_id" not in payload
    assert "recipient_index" not in payload
    assert "custom_args" not in payload
    assert "acct-secret" not in msgspec.json.encode(payload).decode()
    assert (payload["message_id"], payload["email"], payload["event_id"]) == (
        "msg1",
        "rcpt@example.net",
        "evt1",
    )
    assert (payload["timestamp"], payload["categories"]) == (1_700_000_000, ["receipts"])


def test_custom_args_are_flattened_at_top_level() -> None:
    event = Delivered(**{**BASE, "custom_args": {"order": "42", "user": "u-7"}}, response="250 Ok")
    payload = webhook_payload(event)
    assert payload["order"] == "42"
    assert payload["user"] == "u-7"
    assert "custom_args" not in payload


@pytest.mark.parametrize(
    ("event", "reserved"),
    [
        (Delivered(**BASE, response="250 Ok"), "event"),
        (Delivered(**BASE, response="250 Ok"), "email"),
        (Delivered(**BASE, response="250 Ok"), "message_id"),
        (Delivered(**BASE, response="250 Ok"), "timestamp"),
        (Delivered(**BASE, response="250 Ok"), "event_id"),
        (Delivered(**BASE, response="250 Ok"), "response"),
        (Delivered(**BASE, response="250 Ok"), "tls"),  # a default value: still reserved
        (Delivered(**BASE, response="250 Ok"), "mx"),
        (Delivered(**BASE, response="250 Ok"), "attempt"),
        (Bounce(**BASE, reason="550", status="5.1.1"), "type"),
        (Bounce(**BASE, reason="550", status="5.1.1"), "bounce_classification"),
        (Dropped(**BASE, reason="x"), "status"),
        (Processed(**{**BASE, "categories": []}), "categories"),
    ],
)
def test_reserved_keys_win_over_custom_args(event: Event, reserved: str) -> None:
    plain = webhook_payload(event)
    spoofed = msgspec.structs.replace(event, custom_args={reserved: "spoofed", "kept": "1"})
    payload = webhook_payload(spoofed)
    assert payload[reserved] == plain[reserved]
    assert payload[reserved] != "spoofed"
    assert payload["kept"] == "1"


def test_custom_arg_named_like_an_internal_field_does_not_reveal_it() -> None:
    event = Processed(**{**BASE, "custom_args": {"account_id": "mine"}})
    assert webhook_payload(event)["account_id"] == "mine"


def test_payload_is_json() -> None:
    event = Bounce(**{**BASE, "custom_args": {"a": "b"}}, reason="550 5.1.1 x", status="5.1.1")
    decoded = msgspec.json.decode(msgspec.json.encode(webhook_payload(event)))
    assert decoded["event"] == "bounce"
    assert decoded["a"] == "b"
    assert decoded["status"] == "5.1.1"


def test_events_decode_by_tag() -> None:
    for event, _ in EVENTS:
        data = msgspec.json.encode(event)
        assert msgspec.json.decode(data, type=Event) == event
