"""The dashboard's Webhooks page against a real server and a real receiver on loopback that
sometimes answers 500: targets added (and refused beside the field), events of mail to the
mailbox simulator in the delivery log with each attempt's request and answer (escaped),
redelivery, test events, the secret rotated and shown once, two accounts, a role without the
scope, pagination; and in chromium, add → test → the delivery → its page."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from markupsafe import escape

from tests.support.api import admin, new_key, post_send
from tests.support.dashboard import add_user, browser_on, post_form, signed_in
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.webhook_receiver import Delivery, WebhookReceiver

HOOKS = "/v3/user/webhooks"
SECRET = re.compile(r'data-testid="secret-value">([^<]+)<')
HOOK_ID = re.compile(r'data-webhook-id="([A-Za-z0-9_-]+)"')
DELIVERY_ROW = re.compile(r'data-delivery="([A-Za-z0-9_-]+)"')
HOSTILE = b'<script>alert("receiver")</script> & down'


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    """Loopback targets allowed (`allow_private_targets`, as every webhook test server), and
    a failed POST retried after 1 and 2 s."""
    made = make_module_server()
    made.token("acme"), made.token("globex"), made.token("initech")
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    add_user(made, "--account", "initech", "--email", "pm@initech.example", "--role", "developer")
    return made


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    found = WebhookReceiver().start()
    yield found
    found.stop()


def add_target(client: httpx.Client, url: str, events: list[str], **extra: str) -> httpx.Response:
    fields: dict[str, Any] = {"url": url, "enabled_events": events, "enabled": "true", **extra}
    return post_form(client, "/ui/webhooks", fields)


def added(client: httpx.Client, url: str, events: list[str]) -> tuple[str, str]:
    """(webhook id, signing secret) of a target added through the form."""
    page = add_target(client, url, events)
    assert page.status_code == 200, page.text
    secret = SECRET.search(page.text)
    hook = HOOK_ID.search(page.text)
    assert secret is not None and hook is not None, page.text
    return hook.group(1), html.unescape(secret.group(1))


def signed_by(delivery: Delivery, secret: str) -> bool:
    stamp = delivery.headers["x-scaisend-timestamp"]
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + delivery.body, hashlib.sha256)
    return hmac.compare_digest(delivery.headers["x-scaisend-signature"], mac.hexdigest())


def event_id(delivery: Delivery) -> str:
    return str(json.loads(delivery.body)["event_id"])


def log_rows(server: ScaisendServer, account: str, hook_id: str) -> list[dict[str, Any]]:
    found = admin(server, server.token(account), "GET", f"{HOOKS}/{hook_id}/deliveries")
    assert found.status_code == 200, found.text
    return list(found.json()["result"])


def send_mail(server: ScaisendServer, account: str, to: list[str]) -> None:
    """Mail to the mailbox simulator with a test key: its events flow, nothing leaves."""
    token = server.token(account)
    made = admin(server, token, "POST", "/api/admin/domains", {"domain": f"{account}.example"})
    assert made.status_code in (200, 201, 409), made.text
    key = new_key(server, token, ["mail.send"], env="test")
    body = {
        "personalizations": [{"to": [{"email": a}]} for a in to],
        "from": {"email": f"hello@{account}.example"},
        "subject": "Webhooks",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }
    sent = post_send(server, key, body)
    assert sent.status_code == 202, sent.text


def test_events_flow_and_the_log_shows_each_request_and_answer(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    ada = signed_in(server, "ada@acme.example")
    url = receiver.url + "?to=mail"
    receiver.status, receiver.answer = 500, HOSTILE
    hook_id, secret = added(ada, url, ["delivered", "processed"])
    page = ada.get(f"/ui/webhooks/{hook_id}")
    assert page.status_code == 200 and secret not in page.text  # shown once, never again
    assert secret not in ada.get("/ui/webhooks").text

    send_mail(server, "acme", ["ada@example.com", "bounce@example.com"])
    failed = wait_until(
        lambda: [r for r in log_rows(server, "acme", hook_id) if r["state"] == "failed"],
        "a delivery failed after its retries",
    )[0]
    posted = [d for d in receiver.deliveries if d.path.endswith("to=mail")]
    assert posted and all(signed_by(d, secret) for d in posted)
    log = ada.get(f"/ui/webhooks/{hook_id}").text
    assert failed["id"] in DELIVERY_ROW.findall(log) and "failed (HTTP 500)" in log

    shown = ada.get(f"/ui/webhooks/{hook_id}/deliveries/{failed['id']}")
    assert shown.status_code == 200
    assert "HTTP 500" in shown.text and failed["event_id"] in shown.text
    assert "x-scaisend-signature" in shown.text.lower() and "X-ScaiSend-Timestamp" in shown.text
    last = [d for d in posted if event_id(d) == failed["event_id"]][-1]
    assert last.headers["x-scaisend-signature"] in shown.text  # the last attempt's signature
    assert str(escape(HOSTILE.decode())) in shown.text  # the receiver's answer, escaped
    assert "<script>alert" not in shown.text

    receiver.status, receiver.answer = 200, b'{"ok": true}'
    before = sum(1 for d in receiver.deliveries if event_id(d) == failed["event_id"])
    again = post_form(ada, f"/ui/webhooks/{hook_id}/deliveries/{failed['id']}/redeliver", {})
    assert again.status_code == 303
    wait_until(
        lambda: sum(1 for d in receiver.deliveries if event_id(d) == failed["event_id"]) > before,
        "the redelivered event",
    )
    done = wait_until(
        lambda: (
            next(r for r in log_rows(server, "acme", hook_id) if r["id"] == failed["id"])["state"]
            == "delivered"
        ),
        "the redelivery recorded",
    )
    assert done
    page = ada.get(f"/ui/webhooks/{hook_id}/deliveries/{failed['id']}").text
    assert "delivered (HTTP 200)" in page and "{&#34;ok&#34;: true}" in page


def test_a_test_event_and_a_rotated_secret_shown_once(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    ada = signed_in(server, "ada@acme.example")
    receiver.status = 200
    url = receiver.url + "?to=rotate"
    hook_id, old = added(ada, url, ["delivered"])
    assert post_form(ada, f"/ui/webhooks/{hook_id}/test", {}).status_code == 303
    first = wait_until(
        lambda: [d for d in receiver.deliveries if d.path.endswith("to=rotate")], "a test"
    )
    assert json.loads(first[0].body)["scaisend_test"] == "true" and signed_by(first[0], old)
    page = wait_until(
        lambda: "delivered (HTTP 200)" in (t := ada.get(f"/ui/webhooks/{hook_id}").text) and t,
        "the test in the log",
    )
    assert "processed" in page

    rotated = post_form(ada, f"/ui/webhooks/{hook_id}/rotate", {})
    assert rotated.status_code == 200 and "shown this once" in rotated.text
    found = SECRET.search(rotated.text)
    assert found is not None
    new = html.unescape(found.group(1))
    assert new != old and new not in ada.get(f"/ui/webhooks/{hook_id}").text
    assert post_form(ada, f"/ui/webhooks/{hook_id}/test", {}).status_code == 303
    second = wait_until(
        lambda: [d for d in receiver.deliveries if d.path.endswith("to=rotate")][1:], "a 2nd test"
    )[0]
    assert signed_by(second, new) and not signed_by(second, old)


def test_enable_disable_and_delete(server: ScaisendServer, receiver: WebhookReceiver) -> None:
    ada = signed_in(server, "ada@acme.example")
    hook_id, _ = added(ada, receiver.url + "?to=switch", ["bounce"])
    token = server.token("acme")
    off = post_form(ada, f"/ui/webhooks/{hook_id}/enabled", {"enabled": "false", "from": "list"})
    assert off.status_code == 303 and off.headers["location"] == "/ui/webhooks?done=disabled"
    assert admin(server, token, "GET", f"{HOOKS}/{hook_id}").json()["enabled"] is False
    on = post_form(ada, f"/ui/webhooks/{hook_id}/enabled", {"enabled": "true"})
    assert on.headers["location"] == f"/ui/webhooks/{hook_id}?done=enabled"
    assert admin(server, token, "GET", f"{HOOKS}/{hook_id}").json()["enabled"] is True
    page = ada.get("/ui/webhooks").text
    assert 'data-confirm="Delete the webhook' in page  # the delete asks first
    gone = post_form(ada, f"/ui/webhooks/{hook_id}/delete", {})
    assert gone.status_code == 303
    assert admin(server, token, "GET", f"{HOOKS}/{hook_id}").status_code == 404
    assert ada.get(f"/ui/webhooks/{hook_id}").status_code == 404


def test_bad_input_is_shown_beside_its_field_and_nothing_is_saved(
    server: ScaisendServer, make_module_server: Callable[..., ScaisendServer]
) -> None:
    ada = signed_in(server, "ada@acme.example")
    before = admin(server, server.token("acme"), "GET", HOOKS).json()
    none = add_target(ada, "https://hooks.example.com/in", [])
    assert none.status_code == 400
    assert 'data-field-error="enabled_events">enabled_events must not be empty' in none.text
    assert 'value="https://hooks.example.com/in"' in none.text  # what was typed is kept
    scheme = add_target(ada, "ftp://hooks.example.com/in", ["delivered"])
    assert 'data-field-error="url">webhook url must use https' in scheme.text
    assert admin(server, server.token("acme"), "GET", HOOKS).json() == before

    # The SSRF guard as it stands by default: a private address is refused beside the url.
    guarded = make_module_server({"webhooks": {"allow_private_targets": False}})
    guarded.token("acme")
    add_user(guarded, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    client = signed_in(guarded, "ada@acme.example")
    refused = add_target(client, "https://10.1.2.3/hook", ["delivered"])
    assert refused.status_code == 400
    assert 'data-field-error="url">webhook target address 10.1.2.3 is not allowed' in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert admin(guarded, guarded.token("acme"), "GET", HOOKS).json() == []


def test_another_account_sees_and_changes_none_of_it(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    ada = signed_in(server, "ada@acme.example")
    receiver.status = 200
    hook_id, _ = added(ada, receiver.url + "?to=acme-only", ["delivered"])
    assert post_form(ada, f"/ui/webhooks/{hook_id}/test", {}).status_code == 303
    row = wait_until(lambda: log_rows(server, "acme", hook_id), "acme's test")[0]
    receiver.wait_for(lambda d: d.path.endswith("to=acme-only"))

    bo = signed_in(server, "bo@globex.example")
    theirs, _ = added(bo, receiver.url + "?to=globex", ["delivered"])
    assert hook_id not in bo.get("/ui/webhooks").text
    for path in (
        f"/ui/webhooks/{hook_id}",
        f"/ui/webhooks/{hook_id}/deliveries/{row['id']}",
        f"/ui/webhooks/{theirs}/deliveries/{row['id']}",
    ):
        answer = bo.get(path)
        assert answer.status_code == 404 and "acme-only" not in answer.text, path
    posted = receiver.count()
    for path, fields in (
        (f"/ui/webhooks/{hook_id}/deliveries/{row['id']}/redeliver", {}),
        (f"/ui/webhooks/{theirs}/deliveries/{row['id']}/redeliver", {}),
        (f"/ui/webhooks/{hook_id}/test", {}),
        (f"/ui/webhooks/{hook_id}/rotate", {}),
        (f"/ui/webhooks/{hook_id}/enabled", {"enabled": "false"}),
        (f"/ui/webhooks/{hook_id}", {"url": "https://evil.example/", "enabled_events": "open"}),
        (f"/ui/webhooks/{hook_id}/delete", {}),
    ):
        answer = post_form(bo, path, fields)
        assert answer.status_code == 404 and "acme-only" not in answer.text, path
    mine = admin(server, server.token("acme"), "GET", f"{HOOKS}/{hook_id}").json()
    assert mine["enabled"] is True and mine["url"].endswith("to=acme-only")
    assert mine["enabled_events"] == ["delivered"]
    assert [r["id"] for r in log_rows(server, "acme", hook_id)] == [row["id"]]
    assert log_rows(server, "acme", hook_id)[0]["attempts"] == 1
    assert receiver.count() == posted  # nothing redelivered, no test sent


def test_a_role_without_the_scope_sees_no_page_and_changes_nothing(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    ada = signed_in(server, "ada@acme.example")
    hook_id, _ = added(ada, receiver.url + "?to=support", ["delivered"])
    help_ = signed_in(server, "help@acme.example")
    assert 'href="/ui/webhooks"' not in help_.get("/ui/").text  # not in the menu
    for path in ("/ui/webhooks", f"/ui/webhooks/{hook_id}"):
        page = help_.get(path)
        assert page.status_code == 403 and "to=support" not in page.text, path
    before = admin(server, server.token("acme"), "GET", HOOKS).json()
    posted = receiver.count()
    for path, fields in (
        ("/ui/webhooks", {"url": receiver.url, "enabled_events": "delivered"}),
        (f"/ui/webhooks/{hook_id}/test", {}),
        (f"/ui/webhooks/{hook_id}/rotate", {}),
        (f"/ui/webhooks/{hook_id}/enabled", {"enabled": "false"}),
        (f"/ui/webhooks/{hook_id}/delete", {}),
    ):
        assert post_form(help_, path, fields).status_code == 403, path
    assert admin(server, server.token("acme"), "GET", HOOKS).json() == before
    assert receiver.count() == posted


def test_both_apis_targets_listed_and_both_lists_paginated(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    token = server.token("initech")
    settings = {"enabled": True, "url": receiver.url + "?to=sendgrid", "delivered": True}
    made = admin(server, token, "PATCH", "/v3/user/webhooks/event/settings", settings)
    assert made.status_code == 200, made.text
    pm = signed_in(server, "pm@initech.example")  # a developer: manages webhooks
    hook_id, _ = added(pm, receiver.url + "?to=page-2", ["delivered"])
    added(pm, receiver.url + "?to=page-3", ["open"])

    first = pm.get("/ui/webhooks?per_page=2")
    assert "to=sendgrid" in first.text and "SendGrid event settings" in first.text
    assert "to=page-3" not in first.text and 'rel="next"' in first.text
    second = pm.get("/ui/webhooks?per_page=2&page=2")
    assert "to=page-3" in second.text and "to=sendgrid" not in second.text

    for _ in range(3):
        assert post_form(pm, f"/ui/webhooks/{hook_id}/test", {}).status_code == 303
    rows = log_rows(server, "initech", hook_id)
    assert len(rows) == 3
    page_1 = pm.get(f"/ui/webhooks/{hook_id}?per_page=2").text
    page_2 = pm.get(f"/ui/webhooks/{hook_id}?per_page=2&page=2").text
    assert DELIVERY_ROW.findall(page_1) == [r["id"] for r in rows[:2]]
    assert DELIVERY_ROW.findall(page_2) == [rows[2]["id"]]
    assert 'rel="next"' in page_1 and 'rel="prev"' in page_2 and "3 in all" in page_1


def test_in_the_browser_add_test_and_open_the_delivery(
    server: ScaisendServer, receiver: WebhookReceiver
) -> None:
    receiver.status = 200
    with browser_on(server) as browser:
        browser.sign_in("bo@globex.example")
        page = browser.page
        menu = page.locator("nav.menu")
        menu.get_by_role("link", name="Webhooks").click()
        page.get_by_label("URL").fill(receiver.url + "?to=browser")
        page.get_by_label("processed").check()
        page.get_by_role("button", name="Add webhook").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("secret-value").inner_text()
        browser.screenshots("webhooks-added")
        page.get_by_role("button", name="Send a test event").click()
        page.wait_for_load_state()
        assert "test event is queued" in page.get_by_role("status").first.inner_text()
        for _ in range(100):  # bounded: the POST lands within a few seconds
            if page.locator("td.state-delivered").count():
                break
            page.wait_for_timeout(200)
            page.reload()
        assert page.get_by_test_id("secret").count() == 0  # not shown again
        browser.screenshots("webhooks-webhook")
        page.get_by_role("link", name=re.compile("Open the delivery")).first.click()
        page.wait_for_load_state()
        assert page.get_by_test_id("response-status").inner_text() == "HTTP 200"
        assert "x-scaisend-signature" in page.get_by_test_id("request-headers").inner_text().lower()
        assert "scaisend_test" in page.get_by_test_id("request-body").inner_text()
        browser.screenshots("webhooks-delivery")
        menu.get_by_role("link", name="Webhooks").click()
        page.wait_for_load_state()
        browser.screenshots("webhooks")
