"""The dashboard's Activity page against a real server: mail sent with a test key to the
mailbox simulator (delivered, bounced, opened, and a scheduled send still queued), searched
by each field and by the advanced query, a page at a time; a message's page with its
timeline, attempts and content as sent (queued and after delivery); two accounts; and, in
chromium, search → message."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.api import admin, events_until, new_key, of_type, post_send
from tests.support.dashboard import add_user, browser_on, signed_in, ui_client
from tests.support.server import ScaisendServer

ROW = re.compile(r'<tr data-message="([^"]+)">')
STEP = re.compile(r'<li class="step step-\w+" data-event="(\w+)">')
SCRIPT = "<script>alert('sent')</script>"


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    made = make_module_server()
    made.token("acme"), made.token("globex")
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    add_user(made, "--operator", "--email", "op@scaisend.example")
    return made


def send(server: ScaisendServer, key: str, to: str, subject: str, **extra: Any) -> str:
    body = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": subject,
        "content": [{"type": "text/plain", "value": f"Hello {to}"}],
        **extra,
    }
    answer = post_send(server, key, body)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["message_id"])


@pytest.fixture(scope="module")
def sent(server: ScaisendServer) -> dict[str, str]:
    """acme's four messages by name: delivered, bounced, opened, and a scheduled one."""
    token = server.token("acme")
    made = admin(server, token, "POST", "/api/admin/domains", {"domain": "mail.example.com"})
    assert made.status_code in (200, 201), made.text
    key = new_key(server, token, ["mail.send"], env="test")
    found = {
        "delivered": send(
            server,
            key,
            "ada@example.com",
            "Welcome aboard",
            categories=["welcome"],
            custom_args={"order": "A-17"},
        ),
        "bounced": send(server, key, "bounce@example.com", "Invoice 42", categories=["billing"]),
        "opened": send(server, key, "open@example.com", "Weekly news", categories=["news"]),
        "queued": send(
            server,
            key,
            "later@example.com",
            f"Later {SCRIPT}",
            send_at=int(time.time()) + 3600,
            content=[
                {"type": "text/plain", "value": "Plain words"},
                {"type": "text/html", "value": f"<p>Hi</p>{SCRIPT}"},
            ],
            attachments=[
                {"content": "aGVsbG8gd29ybGQ=", "filename": "notes.txt", "type": "text/plain"}
            ],
        ),
    }
    events_until(server, token, found["delivered"], lambda e: bool(of_type(e, "delivered")))
    events_until(server, token, found["bounced"], lambda e: bool(of_type(e, "bounce")))
    events_until(server, token, found["opened"], lambda e: bool(of_type(e, "open")))
    return found


def listed(client: httpx.Client, **query: str) -> list[str]:
    """The message ids the Activity page lists for `query`."""
    answer = client.get("/ui/activity", params=query)
    assert answer.status_code == 200, answer.text
    return ROW.findall(answer.text)


def test_the_list_is_newest_first_and_each_field_searches(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    client = signed_in(server, "help@acme.example")  # support reads the activity
    newest_first = [sent["queued"], sent["opened"], sent["bounced"], sent["delivered"]]
    assert listed(client) == newest_first
    assert listed(client, to_email="bounce@example.com") == [sent["bounced"]]
    assert listed(client, to_email="BOUNCE@EXAMPLE.COM") == []  # the local part is exact
    assert listed(client, subject="Invoice") == [sent["bounced"]]
    assert listed(client, subject="nvoice") == []  # the start of the subject
    assert listed(client, subject="Later <script>") == [sent["queued"]]
    assert listed(client, status="bounced") == [sent["bounced"]]
    assert listed(client, status="delivered") == [sent["opened"], sent["delivered"]]
    assert listed(client, categories="news") == [sent["opened"]]
    assert listed(client, categories="welcome", status="delivered") == [sent["delivered"]]
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert listed(client, after=today, before=today) == newest_first
    assert listed(client, before="2001-01-01") == []
    advanced = 'subject LIKE "%news%" OR to_email = "ada@example.com"'
    assert listed(client, query=advanced) == [sent["opened"], sent["delivered"]]
    assert listed(client, query=advanced, status="bounced") == []
    page = client.get("/ui/activity", params={"query": advanced}).text
    assert "subject LIKE &#34;%news%&#34;" in page  # the search is kept in the form


def test_an_empty_result_and_bad_input_are_said_beside_the_field(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    client = signed_in(server, "ada@acme.example")
    nothing = client.get("/ui/activity", params={"to_email": "nobody@example.com"})
    assert nothing.status_code == 200 and "No messages match this search." in nothing.text
    broken = client.get("/ui/activity", params={"query": 'status = "lost"'})
    assert broken.status_code == 400 and not ROW.findall(broken.text)
    error = re.search(r'data-field-error="query">([^<]*)<', broken.text)
    assert error is not None and "unknown status &#39;lost&#39;" in error.group(1)
    assert "status = &#34;lost&#34;" in broken.text  # what was typed stays
    dated = client.get("/ui/activity", params={"after": "yesterday"})
    assert dated.status_code == 400 and 'data-field-error="after"' in dated.text
    wrong = client.get("/ui/activity", params={"status": "lost"})
    assert wrong.status_code == 400 and 'data-field-error="status"' in wrong.text


def test_pages_of_results_keep_the_search(server: ScaisendServer, sent: dict[str, str]) -> None:
    client = signed_in(server, "ada@acme.example")
    first = client.get("/ui/activity", params={"per_page": "2", "subject": "W"})
    assert ROW.findall(first.text) == [sent["opened"], sent["delivered"]]
    assert 'rel="next"' not in first.text  # exactly two match: no empty next page
    one = client.get("/ui/activity", params={"per_page": "3"})
    assert ROW.findall(one.text) == [sent["queued"], sent["opened"], sent["bounced"]]
    following = re.search(r'rel="next" href="([^"]+)"', one.text)
    assert following is not None and 'rel="prev"' not in one.text
    two = client.get("/ui/activity" + following.group(1).replace("&amp;", "&"))
    assert ROW.findall(two.text) == [sent["delivered"]] and 'rel="prev"' in two.text
    searched = client.get("/ui/activity", params={"per_page": "1", "categories": "news"})
    assert 'rel="next"' not in searched.text
    kept = client.get("/ui/activity", params={"per_page": "1", "status": "delivered"})
    link = re.search(r'rel="next" href="([^"]+)"', kept.text)
    assert link is not None and "status=delivered" in link.group(1)


def test_the_message_page_shows_the_timeline_and_attempts(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    client = signed_in(server, "help@acme.example")
    opened = client.get(f"/ui/activity/{sent['opened']}")
    assert opened.status_code == 200
    assert STEP.findall(opened.text) == ["processed", "delivered", "open"]
    assert "ScaiSend mailbox simulator" in opened.text  # the open's user agent
    assert "250 2.0.0 test key" in opened.text
    bounced = client.get(f"/ui/activity/{sent['bounced']}").text
    assert STEP.findall(bounced) == ["processed", "bounce"]
    assert "550 5.1.1 simulator: the mailbox does not exist" in bounced
    assert "Invalid Address" in bounced and 'data-testid="status">bounced<' in bounced
    welcome = client.get(f"/ui/activity/{sent['delivered']}").text
    assert "<code>order</code> = <code>A-17</code>" in welcome and ">welcome</span>" in welcome


def test_a_delivered_message_still_shows_what_was_sent(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    client = signed_in(server, "help@acme.example")
    for name, subject, to in (
        ("delivered", "Welcome aboard", "ada@example.com"),
        ("bounced", "Invoice 42", "bounce@example.com"),
    ):
        page = client.get(f"/ui/activity/{sent[name]}").text
        assert 'data-testid="not-kept"' not in page
        headers = re.search(r'data-testid="headers">([^<]*)<', page)
        assert headers is not None and f"Subject: {subject}" in headers.group(1)
        assert f'data-testid="body-text/plain">Hello {to}' in page
        dkim = re.search(r'data-testid="dkim">(.*?)</dl>', page, re.S)
        assert dkim is not None and "signed by <code>mail.example.com</code>" in dkim.group(1)


def test_a_queued_message_shows_its_content_as_text(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    client = signed_in(server, "ada@acme.example")
    page = client.get(f"/ui/activity/{sent['queued']}").text
    assert SCRIPT not in page  # subject and HTML body escaped, never rendered
    assert "&lt;p&gt;Hi&lt;/p&gt;&lt;script&gt;" in page
    assert 'data-testid="body-text/plain">Plain words' in page
    assert 'notes.txt <span class="muted">text/plain, 11 bytes' in page
    headers = re.search(r'data-testid="headers">([^<]*)<', page)
    assert headers is not None and "From: hello@mail.example.com" in headers.group(1)
    assert "DKIM" in page and "No delivery attempt yet." in page


def test_another_account_sees_none_of_it(server: ScaisendServer, sent: dict[str, str]) -> None:
    client = signed_in(server, "bo@globex.example")
    page = client.get("/ui/activity").text
    assert ROW.findall(page) == [] and "No messages yet." in page
    for message_id in sent.values():
        guessed = client.get(f"/ui/activity/{message_id}")
        assert guessed.status_code == 404 and "Welcome aboard" not in guessed.text
        assert listed(client, query=f'msg_id = "{message_id}"') == []
    assert listed(client, to_email="bounce@example.com") == []


def test_who_may_not_see_the_page_is_sent_away(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    anonymous = ui_client(server)
    for path in ("/ui/activity", f"/ui/activity/{sent['delivered']}"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/sign-in"
    operator = signed_in(server, "op@scaisend.example")  # no account chosen: choose one
    answer = operator.get(f"/ui/activity/{sent['delivered']}")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/accounts"


def test_a_support_person_searches_and_reads_a_timeline(
    server: ScaisendServer, sent: dict[str, str]
) -> None:
    with browser_on(server) as browser:
        page = browser.page
        browser.sign_in("help@acme.example")
        page.get_by_role("link", name="Activity").click()
        page.wait_for_url(f"{server.base_url}/ui/activity")
        page.get_by_label("Recipient").fill("bounce@example.com")
        page.get_by_label("Status").select_option("bounced")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r".*to_email=bounce%40example\.com.*status=bounced.*"))
        assert page.locator("tr[data-message]").count() == 1
        browser.screenshots("activity")
        page.get_by_role("link", name="Invoice 42").click()
        page.wait_for_url(f"{server.base_url}/ui/activity/{sent['bounced']}")
        assert page.get_by_role("heading", level=1).inner_text() == "Invoice 42"
        events = page.locator("[data-testid=timeline] li").evaluate_all(
            "items => items.map(i => i.dataset.event)"
        )
        assert events == ["processed", "bounce"]
        assert "5.1.1" in page.get_by_test_id("attempts").inner_text()
        browser.screenshots("activity-message")
