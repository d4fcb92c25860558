"""Managing webhooks over `/v3/user/webhooks`: change, rotate (the new secret signs at once),
test events through the signed path, the paginated delivery log with filters, redelivery, and
tenant isolation on every `/{id}` route."""

from __future__ import annotations

import json

import httpx

from mta.webhooks.jobs import sign
from tests.support.api import admin
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.webhook_receiver import Delivery, WebhookReceiver

HOOKS = "/v3/user/webhooks"


def verified(delivery: Delivery, secret: str) -> bool:
    timestamp = delivery.headers["x-scaisend-timestamp"]
    expected = sign(secret, timestamp, delivery.body.decode())
    return delivery.headers["x-scaisend-signature"] == expected


def delivery_state(server: ScaisendServer, token: str, hook_id: str, delivery_id: str) -> str:
    page = admin(server, token, "GET", f"{HOOKS}/{hook_id}/deliveries").json()
    return next(str(r["state"]) for r in page["result"] if r["id"] == delivery_id)


def test_manage_test_rotate_deliveries_and_redeliver(
    scaisend: ScaisendServer, receiver: WebhookReceiver
) -> None:
    token = scaisend.token()
    created = admin(
        scaisend, token, "POST", HOOKS, {"url": receiver.url, "enabled_events": ["delivered"]}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["format"] == "scaisend" and hook["signing_secret"]
    assert "signing_secret" not in admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}").json()

    changed = admin(
        scaisend,
        token,
        "PATCH",
        f"{HOOKS}/{hook['id']}",
        {"enabled_events": ["delivered", "spamreport"], "enabled": True},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["enabled_events"] == ["delivered", "spam_report"]
    bad = admin(scaisend, token, "PATCH", f"{HOOKS}/{hook['id']}", {"enabled_events": ["nope"]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "enabled_events"

    # A test event goes through the outbox, signed with the secret.
    sent = admin(scaisend, token, "POST", f"{HOOKS}/{hook['id']}/test")
    assert sent.status_code == 202, sent.text
    first = wait_until(lambda: list(receiver.deliveries), "the test event")[0]
    assert verified(first, hook["signing_secret"])
    assert json.loads(first.body)["event_id"] == sent.json()["event_id"]
    wait_until(
        lambda: delivery_state(scaisend, token, hook["id"], sent.json()["id"]) == "delivered",
        "the test delivery to be recorded",
    )

    # Rotation: the new secret is shown once and signs the next POST; the old one no longer.
    rotated = admin(scaisend, token, "POST", f"{HOOKS}/{hook['id']}/rotate").json()
    assert rotated["signing_secret"] != hook["signing_secret"]
    receiver.status = 500
    failing = admin(scaisend, token, "POST", f"{HOOKS}/{hook['id']}/test").json()
    second = wait_until(lambda: receiver.deliveries[1:], "the second test event")[0]
    assert verified(second, rotated["signing_secret"])
    assert not verified(second, hook["signing_secret"])

    # The delivery log: newest first, paginated, filtered by state and (alias) event type.
    def failed_once() -> bool:
        row = admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}/deliveries?state=pending")
        rows = row.json()["result"]
        return bool(rows) and rows[0]["attempts"] >= 1 and rows[0]["last_status"] == 500

    wait_until(failed_once, "the failed attempt to be recorded")
    # One delivery (the receiver still answers 500): its event, what was sent and got back.
    detail_path = f"{HOOKS}/{hook['id']}/deliveries/{failing['id']}"
    detail = admin(scaisend, token, "GET", detail_path).json()
    assert json.loads(detail["payload"])["event_id"] == failing["event_id"]
    assert detail["last_status"] == 500 and detail["events"] == 1
    assert detail["response_body"] == '{"ok": true}'
    assert detail["request_headers"]["X-ScaiSend-Signature"] in {
        d.headers["x-scaisend-signature"] for d in receiver.deliveries
    }
    page = admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}/deliveries?limit=1").json()
    assert [r["id"] for r in page["result"]] == [failing["id"]]
    assert page["_metadata"] == {"count": 2, "limit": 1, "offset": 0, "next_offset": 1}
    rest = admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}/deliveries?limit=1&offset=1")
    assert [r["id"] for r in rest.json()["result"]] == [sent.json()["id"]]
    assert rest.json()["_metadata"]["next_offset"] is None
    for query, expected in (("event_type=processed", 2), ("event_type=spamreport", 0)):
        found = admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}/deliveries?{query}")
        assert found.json()["_metadata"]["count"] == expected, query
    for query in ("limit=0", "limit=501", "offset=-1"):
        refused = admin(scaisend, token, "GET", f"{HOOKS}/{hook['id']}/deliveries?{query}")
        assert refused.status_code == 400, query

    # Redelivery of a delivered row sends the same event again.
    receiver.status = 200
    again = admin(
        scaisend, token, "POST", f"{HOOKS}/{hook['id']}/deliveries/{sent.json()['id']}/redeliver"
    )
    assert again.status_code == 202 and again.json()["state"] == "pending", again.text
    wait_until(
        lambda: [d for d in receiver.deliveries if d.body == first.body][1:],
        "the redelivered event",
    )


def test_another_account_sees_none_of_it(
    scaisend: ScaisendServer, receiver: WebhookReceiver
) -> None:
    mine, theirs = scaisend.token("acme"), scaisend.token("globex")
    hook = admin(
        scaisend, mine, "POST", HOOKS, {"url": receiver.url, "enabled_events": ["delivered"]}
    ).json()
    test = admin(scaisend, mine, "POST", f"{HOOKS}/{hook['id']}/test").json()
    assert admin(scaisend, theirs, "GET", HOOKS).json() == []
    base = f"{HOOKS}/{hook['id']}"
    for method, path, body in (
        ("GET", base, None),
        ("PATCH", base, {"enabled": False}),
        ("POST", f"{base}/rotate", None),
        ("POST", f"{base}/test", None),
        ("GET", f"{base}/deliveries", None),
        ("GET", f"{base}/deliveries/{test['id']}", None),
        ("POST", f"{base}/deliveries/{test['id']}/redeliver", None),
        ("DELETE", base, None),
    ):
        refused = admin(scaisend, theirs, method, path, body)
        assert refused.status_code == 404, (method, path, refused.text)
    # A delivery id of one webhook is not reachable under another of the same account.
    other = admin(
        scaisend, mine, "POST", HOOKS, {"url": receiver.url, "enabled_events": ["delivered"]}
    ).json()
    moved = admin(
        scaisend, mine, "POST", f"{HOOKS}/{other['id']}/deliveries/{test['id']}/redeliver"
    )
    assert moved.status_code == 404
    shown = admin(scaisend, mine, "GET", f"{HOOKS}/{other['id']}/deliveries/{test['id']}")
    assert shown.status_code == 404
    assert admin(scaisend, mine, "GET", f"{base}/deliveries/{test['id']}").status_code == 200
    assert admin(scaisend, mine, "GET", base).json()["enabled"] is True
    assert admin(scaisend, mine, "DELETE", base).status_code == 204
    assert admin(scaisend, mine, "GET", base).status_code == 404


def test_bodies_are_checked(scaisend: ScaisendServer) -> None:
    token = scaisend.token()
    for body in (
        {"url": "ftp://x.test/", "enabled_events": ["delivered"]},
        {"url": "https://x.test/", "enabled_events": []},
        {"url": "https://x.test/", "enabled_events": ["delivered"], "format": "xml"},
        {"url": "https://x.test/", "enabled_events": ["delivered"], "secret": "mine"},
    ):
        response = admin(scaisend, token, "POST", HOOKS, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errors"][0]["message"]
    response = httpx.patch(
        f"{scaisend.base_url}{HOOKS}/nope",
        json={"enabled": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404
