"""The dashboard's Queue page against a real server whose recipients' MX answers 451, with
two accounts' deferred mail: depth by destination and the deferred reasons, the list's
filter and pages, hold / release / retry / delete (checked through /api/admin/queue), each
account's mail kept from the other, the operator's whole-instance view; and, in chromium,
the flow a user clicks: filter, hold, release, delete after the confirmation."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import admin, new_key, send, set_up_account
from tests.support.dashboard import HIDDEN_TOKEN, add_user, browser_on, post_form, signed_in
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import mx_sink, nameserver_of, recipients_dns
from tests.support.sink import SmtpSink

LATER = "451 4.2.0 try later"
GREY = "451 4.7.1 greylisted"
ROW = re.compile(r'<tr data-queue-id="([^"]+)" data-state="([^"]+)">')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DnsServer, SmtpSink]]:
    """Recipients at example.com and example.net, both of whose MX is a sink that defers."""
    dns = recipients_dns()
    dns.add("example.net", "MX", "10 mx.example.com.")
    sink = mx_sink(tmp_path_factory.mktemp("sink"))
    yield dns, sink
    sink.stop()
    dns.stop()


@pytest.fixture(scope="module")
def server(
    make_module_server: Callable[..., ScaisendServer], world: tuple[DnsServer, SmtpSink]
) -> ScaisendServer:
    dns, sink = world
    made = make_module_server(
        {"delivery": {"retry_schedule_seconds": [600]}},  # deferred mail stays deferred
        nameserver=nameserver_of(dns),
        smtp_port=sink.controller.port,
    )
    made.token("acme"), made.token("globex")  # the accounts
    for user in (
        ("--account", "acme", "--email", "ada@acme.example", "--role", "admin"),
        ("--account", "acme", "--email", "dev@acme.example", "--role", "developer"),
        ("--account", "globex", "--email", "bo@globex.example", "--role", "admin"),
        ("--operator", "--email", "op@scaisend.example"),
    ):
        add_user(made, *user)
    return made


OPERATOR_TOKENS: dict[str, str] = {}


def operator_token(server: ScaisendServer) -> str:
    """The operator's JWT, made once per server (each `scaisend token` is a process)."""
    if server.base_url not in OPERATOR_TOKENS:
        made = server.command("token", "--operator").stdout.split()[-1]
        OPERATOR_TOKENS[server.base_url] = made
    return OPERATOR_TOKENS[server.base_url]


def api_queue(server: ScaisendServer) -> dict[str, dict[str, Any]]:
    """The whole queue as the operator's API lists it, by queue id."""
    found = admin(server, operator_token(server), "GET", "/api/admin/queue").json()
    return {m["queue_id"]: m for m in found["messages"]}


@pytest.fixture(scope="module")
def mail(server: ScaisendServer, world: tuple[DnsServer, SmtpSink]) -> dict[str, str]:
    """Queue ids by name: acme's a1, a2 (to example.com) and a3 (example.net), globex's g1,
    all deferred once (the next try 10 minutes away)."""
    dns, sink = world
    sink.reject.update(
        {"slow@example.com": LATER, "grey@example.net": GREY, "b@example.com": LATER}
    )
    keys = {}
    for account, domain in (("acme", "mail.example.com"), ("globex", "mail.globex.example")):
        token = server.token(account)
        set_up_account(server, dns, token, domain)
        keys[account] = (new_key(server, token, ["mail.send"]), f"hello@{domain}")
    sent = {
        "a1": send(server, keys["acme"][0], "slow@example.com", sender=keys["acme"][1]),
        "a2": send(server, keys["acme"][0], "slow@example.com", sender=keys["acme"][1]),
        "a3": send(server, keys["acme"][0], "grey@example.net", sender=keys["acme"][1]),
        "g1": send(server, keys["globex"][0], "b@example.com", sender=keys["globex"][1]),
    }
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listed = api_queue(server)
        tried = {
            m["message_id"]: qid
            for qid, m in listed.items()
            if m["state"] == "deferred" and m["recipients"][0]["last_reply"]
        }
        if set(sent.values()) <= set(tried):
            return {name: tried[message_id] for name, message_id in sent.items()}
        time.sleep(0.2)
    raise AssertionError(f"the mail was never deferred: {listed}")


def rows(html: str) -> dict[str, str]:
    """The list's messages on a page: queue id → state."""
    return dict(ROW.findall(html))


def depth(html: str, domain: str) -> int | None:
    found = re.search(rf'data-testid="depth-{re.escape(domain)}">(\d+)<', html)
    return int(found.group(1)) if found else None


def reasons(html: str) -> dict[str, int]:
    found = re.findall(r'<code>([^<]+)</code></td><td data-testid="reason-count">(\d+)<', html)
    return {reply: int(count) for reply, count in found}


def act(client: httpx.Client, action: str, queue_id: str, query: str = "") -> httpx.Response:
    """The action's form posted as the Queue page draws it (the operator with no account
    chosen has no Overview to read the token from)."""
    token = HIDDEN_TOKEN.search(client.get("/ui/queue").text)
    if token is None:  # a role the page refuses: the token from the Overview
        return post_form(client, f"/ui/queue{query}", {"act": action, "queue_id": queue_id})
    fields = {"csrf_token": token.group(1), "act": action, "queue_id": queue_id}
    return client.post(f"/ui/queue{query}", data=fields)


def operator_on(server: ScaisendServer, account: str | None = None) -> httpx.Client:
    client = signed_in(server, "op@scaisend.example")
    if account:
        token = HIDDEN_TOKEN.search(client.get("/ui/accounts").text)
        assert token is not None
        fields = {"csrf_token": token.group(1), "account": account}
        assert client.post("/ui/accounts/switch", data=fields).status_code == 303
    return client


def test_an_admin_sees_the_accounts_depth_reasons_and_mail_only(
    server: ScaisendServer, mail: dict[str, str]
) -> None:
    acme = signed_in(server, "ada@acme.example").get("/ui/queue")
    assert acme.status_code == 200, acme.text
    assert "<h1>Queue</h1>" in acme.text
    assert depth(acme.text, "example.com") == 2 and depth(acme.text, "example.net") == 1
    assert reasons(acme.text) == {LATER: 2, GREY: 1}
    assert rows(acme.text) == {mail[n]: "deferred" for n in ("a1", "a2", "a3")}
    assert mail["g1"] not in acme.text and "globex" not in acme.text

    globex = signed_in(server, "bo@globex.example").get("/ui/queue").text
    assert rows(globex) == {mail["g1"]: "deferred"}
    assert depth(globex, "example.com") == 1 and depth(globex, "example.net") is None
    assert reasons(globex) == {LATER: 1}
    assert all(mail[n] not in globex for n in ("a1", "a2", "a3"))

    instance = operator_on(server).get("/ui/queue")  # no account chosen: the whole instance
    assert instance.status_code == 200
    assert set(rows(instance.text)) == set(mail.values())
    assert depth(instance.text, "example.com") == 3 and reasons(instance.text) == {
        LATER: 3,
        GREY: 1,
    }
    assert 'href="/ui/queue"' in operator_on(server).get("/ui/accounts").text
    as_acme = operator_on(server, "acme").get("/ui/queue").text
    assert set(rows(as_acme)) == {mail["a1"], mail["a2"], mail["a3"]}


def test_the_list_filters_and_pages(server: ScaisendServer, mail: dict[str, str]) -> None:
    client = signed_in(server, "ada@acme.example")
    assert set(rows(client.get("/ui/queue?domain=example.net").text)) == {mail["a3"]}
    assert set(rows(client.get("/ui/queue?domain=EXAMPLE.COM&state=deferred").text)) == {
        mail["a1"],
        mail["a2"],
    }
    held = client.get("/ui/queue?state=held").text
    assert rows(held) == {} and "No message matches the filter" in held

    first = client.get("/ui/queue?per_page=2")
    second = client.get("/ui/queue?per_page=2&page=2")
    assert len(rows(first.text)) == 2 and 'rel="next" href="?page=2&amp;per_page=2"' in first.text
    assert len(rows(second.text)) == 1 and 'rel="next"' not in second.text
    assert set(rows(first.text)) | set(rows(second.text)) == {mail[n] for n in ("a1", "a2", "a3")}

    bad = client.get("/ui/queue?state=bogus&domain=example.net")
    assert bad.status_code == 400
    error = re.search(r'data-field-error="state">([^<]+)<', bad.text)
    assert error is not None and "bogus" in error.group(1)
    assert 'value="example.net"' in bad.text  # what was typed stays


def test_hold_release_retry_and_delete_act_on_the_queue(
    server: ScaisendServer, mail: dict[str, str]
) -> None:
    client, queue_id = signed_in(server, "ada@acme.example"), mail["a2"]
    held = act(client, "hold", queue_id, "?domain=example.com")
    assert held.status_code == 303
    assert held.headers["location"] == f"/ui/queue?domain=example.com&done=hold&id={queue_id}"
    assert api_queue(server)[queue_id]["state"] == "held"
    shown = client.get(held.headers["location"]).text
    assert rows(shown)[queue_id] == "held" and f"<code>{queue_id}</code> held." in shown
    refused = act(client, "retry", queue_id)  # held: nothing to retry until released
    assert refused.status_code == 409 and "was not retried" in refused.text

    assert act(client, "release", queue_id).status_code == 303
    attempts = api_queue(server)[queue_id]["recipients"][0]["attempts"]
    deadline = time.monotonic() + 10  # released: tried again at once, deferred again
    while api_queue(server)[queue_id]["state"] != "deferred" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert act(client, "retry", queue_id).status_code == 303
    while time.monotonic() < deadline:
        now = api_queue(server)[queue_id]
        if now["state"] == "deferred" and now["recipients"][0]["attempts"] > attempts:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the retry never came: {api_queue(server)[queue_id]}")

    deleted = act(client, "delete", queue_id)
    while deleted.status_code == 409 and time.monotonic() < deadline:  # a try in flight:
        assert "is being delivered" in deleted.text and "<h1>Queue</h1>" in deleted.text
        time.sleep(0.2)
        deleted = act(client, "delete", queue_id)
    assert deleted.status_code == 303, deleted.text
    assert queue_id not in api_queue(server)
    gone = act(client, "hold", queue_id)
    assert gone.status_code == 404 and "no message" in gone.text


def test_no_one_touches_another_accounts_mail(server: ScaisendServer, mail: dict[str, str]) -> None:
    before = api_queue(server)
    theirs = mail["g1"]
    acme = signed_in(server, "ada@acme.example")
    for action in ("hold", "release", "retry", "delete"):
        refused = act(acme, action, theirs)
        assert refused.status_code == 404, (action, refused.text)
        assert theirs in refused.text and "globex" not in refused.text
    assert act(acme, "explode", mail["a1"]).status_code == 404
    no_token = acme.post("/ui/queue", data={"act": "hold", "queue_id": mail["a1"]})
    assert no_token.status_code == 303 and no_token.headers["location"] == "/ui/sign-in"

    developer = signed_in(server, "dev@acme.example")
    page = developer.get("/ui/queue")
    assert page.status_code == 403 and mail["a1"] not in page.text
    assert 'href="/ui/queue"' not in developer.get("/ui/").text  # not in the menu
    assert act(developer, "hold", mail["a1"]).status_code == 403
    assert api_queue(server) == before  # nothing changed

    operator = operator_on(server)  # the whole instance: every account's mail
    assert act(operator, "hold", theirs).status_code == 303
    assert api_queue(server)[theirs]["state"] == "held"
    assert act(operator, "release", theirs).status_code == 303
    assert api_queue(server)[theirs]["state"] != "held"
    as_acme = operator_on(server, "acme")  # acting as acme's admin: acme's mail only
    assert act(as_acme, "hold", theirs).status_code == 404


def test_a_user_filters_holds_releases_and_deletes_in_the_browser(
    server: ScaisendServer, mail: dict[str, str]
) -> None:
    queue_id = mail["a3"]
    with browser_on(server) as browser:
        page = browser.page
        browser.sign_in("ada@acme.example")
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="Queue").click()
        page.get_by_role("heading", name="Depth by destination").wait_for()
        page.get_by_label("Destination", exact=True).fill("example.net")
        page.get_by_role("button", name="Filter").click()
        row = page.locator(f'tr[data-queue-id="{queue_id}"]')
        assert page.locator("tr[data-queue-id]").count() == 1 and row.count() == 1
        browser.screenshots("queue")

        row.get_by_role("button", name="Hold").click()
        page.get_by_test_id("done").wait_for()
        assert "held" in page.get_by_test_id("done").inner_text()
        assert row.get_attribute("data-state") == "held"
        row.get_by_role("button", name="Release").click()
        assert "released" in page.get_by_test_id("done").inner_text()

        deadline = time.monotonic() + 10
        while True:
            page.once("dialog", lambda dialog: dialog.accept())
            page.locator(f'tr[data-queue-id="{queue_id}"]').get_by_role(
                "button", name="Delete"
            ).click()
            page.wait_for_load_state()
            if page.get_by_test_id("problem").count() == 0 or time.monotonic() > deadline:
                break  # else the retry a release starts was in flight: the page said so
            assert "is being delivered" in page.get_by_test_id("problem").inner_text()
            time.sleep(0.2)
            page.goto(f"{server.base_url}/ui/queue?domain=example.net")
        assert "deleted" in page.get_by_test_id("done").inner_text()
        assert page.locator("tr[data-queue-id]").count() == 0
        browser.screenshots("queue-deleted")
    assert queue_id not in api_queue(server)
