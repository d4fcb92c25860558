"""OAuth 2.0 client credentials on event webhooks in a real server, with a real token endpoint
and receiver on loopback: set through our API and SendGrid's, the secret never shown, half-set
fields refused, events (and SendGrid's test endpoint) sent with the bearer token, a failing
token endpoint retried with its reason in the delivery log. Private token URLs: see
test_webhooks_ssrf."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.oauth_server import TokenServer
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.webhook_receiver import WebhookReceiver

HOOKS = "/v3/user/webhooks"
SETTINGS = "/v3/user/webhooks/event/settings"
CLIENT, SECRET = "scaisend-hooks", "very-secret-value"


@pytest.fixture
def tokens(receiver: WebhookReceiver) -> Iterator[TokenServer]:
    server = TokenServer(CLIENT, SECRET).start()
    receiver.authorize = server.accepts
    yield server
    server.stop()


def oauth(tokens: TokenServer, secret: str | None = SECRET) -> dict[str, Any]:
    fields = {"oauth_client_id": CLIENT, "oauth_token_url": tokens.url}
    return fields | ({"oauth_client_secret": secret} if secret is not None else {})


def deliveries(server: ScaisendServer, token: str, hook_id: str) -> list[dict[str, Any]]:
    page = admin(server, token, "GET", f"{HOOKS}/{hook_id}/deliveries").json()
    return list(page["result"])


def test_our_api_sets_oauth_hides_the_secret_and_posts_with_the_token(
    scaisend: ScaisendServer, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    token = scaisend.token()
    body = {"url": receiver.url, "enabled_events": ["processed"]}
    for half, field in (
        ({"oauth_client_id": CLIENT}, "oauth_token_url"),
        ({"oauth_token_url": tokens.url}, "oauth_client_id"),
        ({"oauth_client_id": CLIENT, "oauth_token_url": tokens.url}, "oauth_client_secret"),
        ({"oauth_client_secret": SECRET}, "oauth_client_id"),
        (oauth(tokens) | {"oauth_token_url": "ftp://auth.example/token"}, "oauth_token_url"),
    ):
        refused = admin(scaisend, token, "POST", HOOKS, body | half)
        assert refused.status_code == 400, (half, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    assert admin(scaisend, token, "GET", HOOKS).json() == []

    made = admin(scaisend, token, "POST", HOOKS, body | oauth(tokens))
    assert made.status_code == 201, made.text
    hook = made.json()
    assert (hook["oauth_client_id"], hook["oauth_token_url"]) == (CLIENT, tokens.url)
    for path in (HOOKS, f"{HOOKS}/{hook['id']}"):
        shown = admin(scaisend, token, "GET", path)
        assert CLIENT in shown.text and SECRET not in shown.text

    # Two test events: both carry the token (fetched once) beside the HMAC signature.
    for _ in range(2):
        sent = admin(scaisend, token, "POST", f"{HOOKS}/{hook['id']}/test")
        assert sent.status_code == 202, sent.text
    wait_until(lambda: receiver.count() >= 2, "two test events")
    assert [d.headers["authorization"] for d in receiver.deliveries] == ["Bearer token-1"] * 2
    assert all("x-scaisend-signature" in d.headers for d in receiver.deliveries)
    assert tokens.granted() == 1

    # A new client id without the secret keeps the stored secret; "" turns OAuth off.
    moved = admin(scaisend, token, "PATCH", f"{HOOKS}/{hook['id']}", {"oauth_client_id": "x"})
    assert moved.status_code == 400 and moved.json()["errors"][0]["field"] == "oauth_token_url"
    kept = {"oauth_client_id": CLIENT, "oauth_token_url": tokens.url.replace("token", "t2")}
    changed = admin(scaisend, token, "PATCH", f"{HOOKS}/{hook['id']}", kept)
    assert changed.status_code == 200 and changed.json()["oauth_token_url"].endswith("/t2")
    off = {"oauth_client_id": "", "oauth_token_url": None}
    cleared = admin(scaisend, token, "PATCH", f"{HOOKS}/{hook['id']}", off).json()
    assert "oauth_client_id" not in cleared and "oauth_token_url" not in cleared
    restore = admin(scaisend, token, "PATCH", f"{HOOKS}/{hook['id']}", kept)
    assert restore.json()["errors"][0]["field"] == "oauth_client_secret"  # it was forgotten


def test_a_failing_token_endpoint_is_retried_and_its_reason_logged(
    scaisend: ScaisendServer, receiver: WebhookReceiver, tokens: TokenServer
) -> None:
    token = scaisend.token()
    body = {"url": receiver.url, "enabled_events": ["processed"]} | oauth(tokens)
    hook = admin(scaisend, token, "POST", HOOKS, body).json()
    tokens.failures = 2  # the retry schedule in tests is 1 s, 2 s: the third attempt works
    sent = admin(scaisend, token, "POST", f"{HOOKS}/{hook['id']}/test").json()

    def failed_on_the_token() -> bool:
        row = next(r for r in deliveries(scaisend, token, hook["id"]) if r["id"] == sent["id"])
        error = row["last_error"] or ""
        return row["state"] == "pending" and "OAuth token: " in error and "HTTP 500" in error

    wait_until(failed_on_the_token, "a delivery failed on its OAuth token")
    wait_until(
        lambda: deliveries(scaisend, token, hook["id"])[0]["state"] == "delivered",
        "the retry to be delivered",
    )
    [row] = deliveries(scaisend, token, hook["id"])
    assert row["attempts"] == 3 and row["last_error"] is None
    assert [d.headers["authorization"] for d in receiver.deliveries] == ["Bearer token-1"]
    wait_until(lambda: "event=webhook_oauth_failed" in scaisend.log(), "the logged reason")


def events_received(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [event for d in list(receiver.deliveries) for event in json.loads(d.body)]


def test_sendgrids_api_and_test_endpoint_use_oauth(
    scaisend: ScaisendServer,
    dns_server: DnsServer,
    receiver: WebhookReceiver,
    tokens: TokenServer,
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    settings = {"enabled": True, "url": receiver.url, "processed": True, "delivered": True}
    half = admin(scaisend, token, "PATCH", SETTINGS, settings | {"oauth_client_id": CLIENT})
    assert half.status_code == 400 and half.json()["errors"][0]["field"] == "oauth_token_url"
    made = admin(scaisend, token, "PATCH", SETTINGS, settings | oauth(tokens))
    assert made.status_code == 200, made.text
    shown = admin(scaisend, token, "GET", SETTINGS)
    assert shown.json()["oauth_client_id"] == CLIENT and SECRET not in shown.text
    assert shown.json()["oauth_token_url"] == tokens.url

    message_id = send(scaisend, key, "ada@example.com")
    wait_for_status(scaisend, key, message_id, "delivered")
    wait_until(lambda: len(events_received(receiver)) >= 2, "processed and delivered")
    assert {d.headers["authorization"] for d in receiver.deliveries} == {"Bearer token-1"}

    # The test endpoint fetches a token with the fields given (the stored secret when the
    # secret is left out) and posts at once; its outcome is in the delivery log.
    [hook] = admin(scaisend, token, "GET", HOOKS).json()
    before, granted = receiver.count(), tokens.granted()
    test = {"url": receiver.url} | oauth(tokens, secret=None)
    assert admin(scaisend, token, "POST", f"{HOOKS}/event/test", test).status_code == 204
    assert receiver.count() == before + 1 and tokens.granted() == granted + 1
    assert receiver.deliveries[-1].headers["authorization"] == f"Bearer token-{granted + 1}"
    assert deliveries(scaisend, token, hook["id"])[0]["state"] == "delivered"

    wrong = test | {"oauth_client_secret": "not-the-secret"}
    assert admin(scaisend, token, "POST", f"{HOOKS}/event/test", wrong).status_code == 204
    latest = deliveries(scaisend, token, hook["id"])[0]
    assert latest["state"] == "failed" and latest["attempts"] == 1
    assert latest["last_error"] == "OAuth token: the token endpoint answered HTTP 401"
    assert receiver.count() == before + 1
    # What the test was given is not saved.
    assert admin(scaisend, token, "GET", SETTINGS).json()["oauth_token_url"] == tokens.url
