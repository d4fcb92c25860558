"""Webhooks lose nothing: a receiver that fails (500), then recovers, gets every event exactly
once by event_id across a server restart; a SIGKILL with deliveries pending (some of them in
flight, claimed) loses none either."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.webhook_receiver import WebhookReceiver

WEBHOOKS = {
    "allow_private_targets": True,
    "timeout_seconds": 2.0,
    "lease_seconds": 3.0,
    "retry_schedule_seconds": [1] * 30,
}


@pytest.fixture
def server(make_server: ServerFactory) -> ScaisendServer:
    return make_server({"webhooks": WEBHOOKS})


def deliveries(server: ScaisendServer, token: str, hook_id: str) -> list[dict[str, Any]]:
    response = admin(server, token, "GET", f"/v3/user/webhooks/{hook_id}/deliveries?limit=500")
    assert response.status_code == 200, response.text
    return list(response.json()["result"])


def wait_until(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def setup(server: ScaisendServer, dns_server: DnsServer, receiver: WebhookReceiver) -> Any:
    token, key = account_with_key(server, dns_server)
    hook = admin(
        server,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["processed", "delivered"]},
    )
    assert hook.status_code == 201, hook.text
    return token, key, hook.json()["id"]


def received_ok(receiver: WebhookReceiver) -> Counter[tuple[str, str, str]]:
    """(event_id, message_id, event) of each POST the receiver answered 200, counted."""
    found: Counter[tuple[str, str, str]] = Counter()
    for delivery in list(receiver.deliveries):
        if delivery.status == 200:
            event = json.loads(delivery.body)
            found[(event["event_id"], event["message_id"], event["event"])] += 1
    return found


def test_failing_receiver_recovers_after_restart_and_gets_each_event_once(
    server: ScaisendServer, dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    token, key, hook_id = setup(server, dns_server, receiver)
    messages = [send(server, key, "ada@example.com") for _ in range(3)]
    for message_id in messages:
        wait_for_status(server, key, message_id, "delivered")
    wait_until(
        lambda: (
            len(rows := deliveries(server, token, hook_id)) == 6
            and all(r["attempts"] >= 2 and r["last_status"] == 500 for r in rows)
        ),
        "every event to fail twice",
    )
    server.stop()
    receiver.status = 200
    server.start()
    wait_until(
        lambda: all(r["state"] == "delivered" for r in deliveries(server, token, hook_id)),
        "every delivery to succeed",
    )
    got = received_ok(receiver)
    assert sorted((m, e) for _, m, e in got) == sorted(
        (m, e) for m in messages for e in ("processed", "delivered")
    )
    assert set(got.values()) == {1}
    # Every failed attempt carried the same event id as the one that succeeded.
    failed = {json.loads(d.body)["event_id"] for d in receiver.deliveries if d.status == 500}
    assert failed == {event_id for event_id, _, _ in got}


def test_sigkill_with_deliveries_pending_and_in_flight_loses_none(
    server: ScaisendServer, dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    token, key, hook_id = setup(server, dns_server, receiver)
    messages = [send(server, key, "ada@example.com") for _ in range(2)]
    for message_id in messages:
        wait_for_status(server, key, message_id, "delivered")
    wait_until(lambda: len(deliveries(server, token, hook_id)) == 4, "four outbox rows")
    # The receiver now hangs: the next POSTs are in flight (rows claimed) when we kill.
    receiver.delay = 1.5
    seen = len(receiver.deliveries)
    wait_until(lambda: len(receiver.deliveries) > seen, "a POST in flight")
    server.kill()
    receiver.status, receiver.delay = 200, 0.0
    server.start()
    wait_until(
        lambda: all(r["state"] == "delivered" for r in deliveries(server, token, hook_id)),
        "every delivery to succeed after the crash",
    )
    got = received_ok(receiver)
    assert sorted((m, e) for _, m, e in got) == sorted(
        (m, e) for m in messages for e in ("processed", "delivered")
    )
    assert set(got.values()) == {1}
