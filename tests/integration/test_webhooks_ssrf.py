"""The SSRF guard in a real server with `allow_private_targets = false`: loopback URLs in any
spelling are refused when the webhook is made, and a public-looking name that our resolver
maps to 127.0.0.1 is refused at delivery: the local listener never receives a hit. OAuth token
URLs pass the same guard."""

from __future__ import annotations

import time

import pytest

from tests.support.api import admin
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.webhook_receiver import WebhookReceiver

HOOKS = "/v3/user/webhooks"
SETTINGS = "/v3/user/webhooks/event/settings"


@pytest.fixture
def guarded(make_server: ServerFactory) -> ScaisendServer:
    return make_server(
        {"webhooks": {"allow_private_targets": False, "retry_schedule_seconds": [1]}}
    )


def test_loopback_targets_are_refused(
    guarded: ScaisendServer, dns_server: DnsServer, receiver: WebhookReceiver
) -> None:
    token = guarded.token()
    port = receiver.port
    for host in (
        "127.0.0.1",
        "localhost",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "169.254.169.254",
        "[64:ff9b::7f00:1]",
        "[2002:7f00:1::]",
        "[::127.0.0.1]",
        "[fe80::1%25lo]",
        "user@hooks.example.net",
    ):
        for scheme in ("https", "http"):
            url = f"{scheme}://{host}:{port}/hook"
            made = admin(
                guarded, token, "POST", HOOKS, {"url": url, "enabled_events": ["processed"]}
            )
            assert made.status_code == 400, (url, made.text)
            assert made.json()["errors"][0]["field"] == "url"

    # A name that resolves to loopback passes the spelling check but never gets a POST.
    dns_server.add("hooks.example.net", "A", "127.0.0.1")
    url = "https://hooks.example.net:8443/hook"
    made = admin(guarded, token, "POST", HOOKS, {"url": url, "enabled_events": ["processed"]})
    assert made.status_code == 201, made.text
    hook_id = made.json()["id"]
    test = admin(guarded, token, "POST", f"{HOOKS}/{hook_id}/test").json()
    deadline = time.monotonic() + 20
    row: dict[str, object] = {}
    while time.monotonic() < deadline:
        rows = admin(guarded, token, "GET", f"{HOOKS}/{hook_id}/deliveries").json()["result"]
        row = next(r for r in rows if r["id"] == test["id"])
        if row["state"] == "failed":
            break
        time.sleep(0.2)
    assert row["state"] == "failed" and row["last_status"] is None
    assert "127.0.0.1 is not allowed" in str(row["last_error"])
    assert receiver.count() == 0


def test_private_oauth_token_urls_are_refused(guarded: ScaisendServer) -> None:
    token = guarded.token()
    body = {"url": "https://hooks.example.net/hook", "enabled_events": ["processed"]}
    for token_url in (
        "http://auth.example.net/token",
        "https://127.0.0.1/token",
        "https://localhost/token",
        "https://[::1]/token",
        "https://169.254.169.254/token",
        "https://\u2460\u2461\u2466.0.0.1/token",  # 127.0.0.1 once IDNA-mapped
        "https://auth..example.net/token",
        "https://auth.example.net:9999/token",
    ):
        fields = {
            "oauth_client_id": "scaisend-hooks",
            "oauth_client_secret": "very-secret-value",
            "oauth_token_url": token_url,
        }
        made = admin(guarded, token, "POST", HOOKS, body | fields)
        assert made.status_code == 400, (token_url, made.text)
        assert made.json()["errors"][0]["field"] == "oauth_token_url"
        sendgrid = {"enabled": True, "url": body["url"]} | fields
        settings = admin(guarded, token, "PATCH", SETTINGS, sendgrid)
        assert settings.status_code == 400, (token_url, settings.text)
        assert settings.json()["errors"][0]["field"] == "oauth_token_url"
    fine = body | {
        "oauth_client_id": "scaisend-hooks",
        "oauth_client_secret": "very-secret-value",
        "oauth_token_url": "https://auth.example.net/token",
    }
    assert admin(guarded, token, "POST", HOOKS, fine).status_code == 201


def test_hosts_are_judged_and_stored_in_their_idna_form(guarded: ScaisendServer) -> None:
    token = guarded.token()
    for host, reason in (
        ("\u2460\u2461\u2466.0.0.1", "127.0.0.1 is not allowed"),  # ①②⑦.0.0.1, UTS 46
        ("\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", "127.0.0.1 is not allowed"),
        ("\u2460\u2461\u2466.1", "non-standard spelling"),
        ("\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54", "localhost"),
        ("hooks..example.net", "is not a valid host name"),
    ):
        url = f"https://{host}:8443/hook"  # an allowed port: the host alone is judged
        made = admin(guarded, token, "POST", HOOKS, {"url": url, "enabled_events": ["processed"]})
        assert made.status_code == 400, (url, made.text)
        [error] = made.json()["errors"]
        assert error["field"] == "url" and reason in error["message"], (url, error)
    url = "https://H\u00d6\u00d6KS.example.net/hook"
    made = admin(guarded, token, "POST", HOOKS, {"url": url, "enabled_events": ["processed"]})
    assert made.status_code == 201, made.text
    assert made.json()["url"] == "https://xn--hks-snaa.example.net/hook"
    bad = admin(
        guarded,
        token,
        "PATCH",
        f"{HOOKS}/{made.json()['id']}",
        {"url": "https://xn--zz.example.net/"},
    )
    assert bad.status_code == 400
    [error] = bad.json()["errors"]
    assert error["field"] == "url" and "is not a valid host name" in error["message"]
    for sendgrid_url in ("https://\u2460\u2461\u2466.0.0.1/hook", "https://-x.example.net/"):
        settings = admin(guarded, token, "PATCH", SETTINGS, {"enabled": True, "url": sendgrid_url})
        assert settings.status_code == 400, settings.text
        assert settings.json()["errors"][0]["field"] == "url"
