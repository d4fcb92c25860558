"""A SendGrid-style event webhook set up through SendGrid's own paths
(`/v3/user/webhooks/event/settings`, `.../signed`, `.../event/test`): events arrive as JSON
arrays in SendGrid's field names, and SendGrid's helper verifies the ECDSA signature."""

from __future__ import annotations

import json
from typing import Any

from sendgrid.helpers.eventwebhook import EventWebhook

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.webhook_receiver import Delivery, WebhookReceiver

SETTINGS = "/v3/user/webhooks/event/settings"
SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"


def events_received(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [event for d in list(receiver.deliveries) for event in json.loads(d.body)]


def verifies(delivery: Delivery, public_key: str) -> bool:
    helper = EventWebhook()
    return bool(
        helper.verify_signature(
            delivery.body.decode(),
            delivery.headers[SIGNATURE],
            delivery.headers[TIMESTAMP],
            helper.convert_public_key_to_ecdsa(public_key),
        )
    )


def test_sendgrid_event_webhook_signed_and_verified_by_sendgrids_helper(
    scaisend: ScaisendServer, dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    empty = admin(scaisend, token, "GET", SETTINGS).json()
    assert empty["enabled"] is False and empty["url"] == "" and empty["delivered"] is False
    assert admin(scaisend, token, "POST", "/v3/user/webhooks/event/test", {}).status_code == 404

    settings = admin(
        scaisend,
        token,
        "PATCH",
        SETTINGS,
        {"enabled": True, "url": receiver.url, "processed": True, "delivered": True},
    )
    assert settings.status_code == 200, settings.text
    assert settings.json()["delivered"] is True and settings.json()["spam_report"] is False
    assert admin(scaisend, token, "GET", SETTINGS).json() == settings.json()
    [hook] = admin(scaisend, token, "GET", "/v3/user/webhooks").json()
    assert hook["format"] == "sendgrid"

    signed = admin(scaisend, token, "GET", f"{SETTINGS}/signed").json()
    assert signed["enabled"] is False and signed["public_key"]
    enabled = admin(scaisend, token, "PATCH", f"{SETTINGS}/signed", {"enabled": True}).json()
    assert enabled == {"enabled": True, "public_key": signed["public_key"]}

    message_id = send(scaisend, key, "ada@example.com")
    wait_for_status(scaisend, key, message_id, "delivered")
    wait_until(lambda: len(events_received(receiver)) >= 2, "processed and delivered")
    events = events_received(receiver)
    assert sorted(e["event"] for e in events) == ["delivered", "processed"]
    for event in events:
        assert event["sg_message_id"] == message_id and event["sg_event_id"]
        assert event["smtp-id"] and event["order"] == "42"
        assert "event_id" not in event and "message_id" not in event
    for delivery in receiver.deliveries:
        assert isinstance(json.loads(delivery.body), list)
        assert verifies(delivery, signed["public_key"])
        tampered = Delivery(delivery.path, delivery.headers, delivery.body + b" ")
        assert not verifies(tampered, signed["public_key"])

    # SendGrid's test endpoint queues a test event for the configured webhook.
    before = len(receiver.deliveries)
    tested = admin(scaisend, token, "POST", "/v3/user/webhooks/event/test", {"url": receiver.url})
    assert tested.status_code == 204, tested.text
    wait_until(lambda: receiver.deliveries[before:], "the test event")
    assert verifies(receiver.deliveries[before], signed["public_key"])
    other = admin(
        scaisend, token, "POST", "/v3/user/webhooks/event/test", {"url": "https://x.test"}
    )
    assert other.status_code == 400

    # spamreport is accepted as a flag name through the settings (SendGrid's spelling there
    # is spam_report), and another account sees nothing of this.
    admin(scaisend, token, "PATCH", SETTINGS, {"spam_report": True})
    assert admin(scaisend, token, "GET", SETTINGS).json()["spam_report"] is True
    stranger = scaisend.token("globex")
    assert admin(scaisend, stranger, "GET", SETTINGS).json()["url"] == ""
    theirs = admin(scaisend, stranger, "GET", f"{SETTINGS}/signed").json()
    assert theirs["public_key"] != signed["public_key"] and theirs["enabled"] is False
