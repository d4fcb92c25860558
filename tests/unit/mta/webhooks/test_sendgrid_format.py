"""The SendGrid webhook format (field names, JSON arrays) and its ECDSA signature, checked with
SendGrid's own verifier (`sendgrid.helpers.eventwebhook.EventWebhook`)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from sendgrid.helpers.eventwebhook import EventWebhook

from mta.core.events import Open, Processed, SpamReport, webhook_payload
from mta.webhooks.sendgrid_format import ecdsa_sign, new_signing_key, sendgrid_body, sendgrid_event


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (
            {"event": "spam_report", "event_id": "e1", "message_id": "m1", "email": "a@x.test"},
            {
                "event": "spamreport",
                "sg_event_id": "e1",
                "sg_message_id": "m1",
                "smtp-id": "<m1@scaisend>",
                "email": "a@x.test",
            },
        ),
        (
            {"event": "open", "event_id": "e2", "machine_open": True, "categories": ["a", "b"]},
            {"event": "open", "sg_event_id": "e2", "sg_machine_open": True, "category": ["a", "b"]},
        ),
        (
            {"event": "deferred", "event_id": "e3", "attempt": 2, "categories": []},
            {"event": "deferred", "sg_event_id": "e3", "attempt": "2"},
        ),
        (
            {"event": "delivered", "event_id": "e4", "order": "42", "timestamp": 1700000000},
            {"event": "delivered", "sg_event_id": "e4", "order": "42", "timestamp": 1700000000},
        ),
    ],
)
def test_sendgrid_event_names(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    assert sendgrid_event(ours) == theirs


def test_sendgrid_body_is_an_array_of_events_with_custom_args_flattened() -> None:
    events = [
        Processed(account_id="a", message_id="m1", email="x@y.test", custom_args={"k": "v"}),
        SpamReport(account_id="a", message_id="m1", email="x@y.test"),
        Open(account_id="a", message_id="m1", email="x@y.test", machine_open=True),
    ]
    body = sendgrid_body([msgspec.json.encode(webhook_payload(e)).decode() for e in events])
    decoded = json.loads(body)
    assert [e["event"] for e in decoded] == ["processed", "spamreport", "open"]
    assert [e["sg_event_id"] for e in decoded] == [e.event_id for e in events]
    assert decoded[0]["k"] == "v" and decoded[2]["sg_machine_open"] is True
    assert all("event_id" not in e and "account_id" not in e for e in decoded)


def test_signature_verifies_with_sendgrids_helper() -> None:
    key = new_signing_key()
    body = '[{"event":"delivered","sg_event_id":"e1"}]'
    timestamp = "1700000000"
    signature = ecdsa_sign(key.private_key_pem, timestamp, body)
    verifier = EventWebhook()
    public = verifier.convert_public_key_to_ecdsa(key.public_key)
    assert verifier.verify_signature(body, signature, timestamp, public) is True
    assert verifier.verify_signature(body + " ", signature, timestamp, public) is False
    assert verifier.verify_signature(body, signature, "1700000001", public) is False
    other = verifier.convert_public_key_to_ecdsa(new_signing_key().public_key)
    assert verifier.verify_signature(body, signature, timestamp, other) is False


def test_each_key_is_new() -> None:
    assert new_signing_key().public_key != new_signing_key().public_key
