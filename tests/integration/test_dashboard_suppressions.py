"""The dashboard's Suppressions page against a real server: every list filled by real mail
(bounces, blocks and invalid addresses from the MX sink; a spam report and an unsubscribe
from the mailbox simulator) shown with why, searched, added to and removed from (checked
through the API); unsubscribe groups; two accounts; a support user's read-only view; the
API's errors beside the field; pagination; and one flow in chromium."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import msgspec
import pytest

from tests.support.api import admin, new_key, post_send, set_up_account
from tests.support.dashboard import Browser, add_user, browser_on, post_form, signed_in
from tests.support.server import ScaisendServer
from tests.support.servers import mx_sink, nameserver_of, recipients_dns
from tests.support.suppressions import mail

GONE, GONE2, BAD, BLOCKED = (
    "gone@example.com",
    "gone2@example.com",
    "bad@example.com",
    "blocked@example.com",
)
COMPLAINT, UNSUBSCRIBED = "complaint@example.com", "unsubscribe@example.com"
SHARED = "shared@example.com"  # suppressed in both accounts
REJECTS = {
    GONE: "550 5.1.1 no such user",
    GONE2: "550 5.1.1 no such user",
    BAD: "550 5.1.2 no such domain",
    BLOCKED: "554 5.7.1 blocked for its content",
}
FILLED = {"bounces": 2, "invalid_emails": 1, "blocks": 1, "spam_reports": 1, "unsubscribes": 2}
ROW = re.compile(r'<tr data-email="([^"]+)"')


class World(msgspec.Struct):
    server: ScaisendServer
    acme: str  # admin tokens
    globex: str


def api(world: World, method: str, path: str, body: Any = None, token: str = "") -> Any:
    answer = admin(world.server, token or world.acme, method, path, body)
    assert answer.status_code < 300, answer.text
    return answer.json() if answer.content else None


def api_list(server: ScaisendServer, token: str, name: str) -> list[Any]:
    return list(admin(server, token, "GET", f"/v3/suppression/{name}").json())


def fill_the_lists(server: ScaisendServer, token: str, dns: Any, reject: dict[str, str]) -> None:
    """Real bounces from the sink (live key) and the simulator's follow-ups (test key)."""
    set_up_account(server, dns, token)
    reject.update(REJECTS)
    live = new_key(server, token, ["mail.send"])
    test = new_key(server, token, ["mail.send"], "test")
    assert post_send(server, live, mail(list(REJECTS))).status_code == 202
    assert post_send(server, test, mail([COMPLAINT], [UNSUBSCRIBED])).status_code == 202
    body = {"recipient_emails": [SHARED]}
    assert admin(server, token, "POST", "/v3/asm/suppressions/global", body).status_code == 201
    deadline, counts = time.monotonic() + 60, {}
    while time.monotonic() < deadline:
        counts = {n: len(api_list(server, token, n)) for n in FILLED}
        if counts == FILLED:
            return
        time.sleep(0.2)
    raise AssertionError(f"the lists were not filled: {counts}")


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, make_module_server: Callable[..., ScaisendServer]
) -> Iterator[World]:
    dns, sink = recipients_dns(), mx_sink(tmp_path_factory.mktemp("suppressions"))
    try:
        server = make_module_server(nameserver=nameserver_of(dns), smtp_port=sink.controller.port)
        acme, globex = server.token("acme"), server.token("globex")
        add_user(server, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
        add_user(server, "--account", "acme", "--email", "help@acme.example", "--role", "support")
        add_user(server, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
        fill_the_lists(server, acme, dns, sink.reject)
        body = {"recipient_emails": [SHARED]}
        assert admin(server, globex, "POST", "/v3/asm/suppressions/global", body).status_code == 201
        yield World(server, acme, globex)
        server.stop()
    finally:
        sink.stop()
        dns.stop()


@pytest.fixture(scope="module")
def ada(world: World) -> httpx.Client:
    return signed_in(world.server, "ada@acme.example")


def emails_on(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ROW.findall(page.text)


def row_of(page: httpx.Response, email: str) -> str:
    start = page.text.index(f'<tr data-email="{email}"')
    return page.text[start : page.text.index("</tr>", start)]


def test_every_list_shows_its_addresses_and_why(world: World, ada: httpx.Client) -> None:
    first = ada.get("/ui/suppressions")  # the first list: bounces
    assert sorted(emails_on(first)) == sorted([GONE, GONE2])
    assert "<h1>Suppressions</h1>" in first.text and 'aria-current="page">Bounces<' in first.text
    assert "550 5.1.1 no such user" in row_of(first, GONE) and "status 5.1.1" in row_of(first, GONE)
    expected = {
        "blocks": (BLOCKED, "554 5.7.1 blocked for its content"),
        "invalid_emails": (BAD, "550 5.1.2 no such domain"),
        "spam_reports": (COMPLAINT, "Marked as spam by the recipient"),
    }
    for name, (email, why) in expected.items():
        shown = ada.get(f"/ui/suppressions?list={name}")
        assert emails_on(shown) == [email], name
        assert why in row_of(shown, email), name
    unsubscribes = ada.get("/ui/suppressions", params={"list": "unsubscribes", "email": "example"})
    assert sorted(emails_on(unsubscribes)) == [SHARED, UNSUBSCRIBED]
    assert "Unsubscribed (link" in row_of(unsubscribes, UNSUBSCRIBED)
    assert "Added by hand" in row_of(unsubscribes, SHARED)
    assert ada.get("/ui/suppressions?list=nonsense").status_code == 404


def test_search_by_part_of_the_address(ada: httpx.Client) -> None:
    def found(text: str) -> list[str]:
        return sorted(emails_on(ada.get("/ui/suppressions", params={"email": text})))

    assert found("GONE@") == [GONE] and found("@example.com") == sorted([GONE, GONE2])
    assert found("gone2") == [GONE2] and found("%") == []  # a wildcard matches itself
    nothing = ada.get("/ui/suppressions", params={"email": "nobody"})
    assert "No address containing “nobody”" in nothing.text
    too_long = ada.get("/ui/suppressions", params={"email": "x" * 300})
    assert too_long.status_code == 400
    assert 'data-field-error="email">email is at most 254 characters' in too_long.text


def test_add_and_remove_as_the_api_sees_them(world: World, ada: httpx.Client) -> None:
    added = post_form(
        ada,
        "/ui/suppressions/add",
        {"list": "unsubscribes", "recipient_emails": "New1@x.io,\nnew2@x.io"},
    )
    assert added.status_code == 303 and added.headers["location"].endswith("list=unsubscribes")
    for email in ("new1@x.io", "new2@x.io"):
        found = api(world, "GET", f"/v3/asm/suppressions/global/{email}")
        assert found == {"recipient_email": email}
    fields = {"list": "unsubscribes", "email": "new1@x.io", "search": "new"}
    removed = post_form(ada, "/ui/suppressions/remove", fields)
    assert removed.status_code == 303 and removed.headers["location"].endswith("email=new")
    assert api(world, "GET", "/v3/asm/suppressions/global/new1@x.io") == {}
    removed = post_form(ada, "/ui/suppressions/remove", {"list": "bounces", "email": GONE2})
    assert removed.status_code == 303
    assert api(world, "GET", f"/v3/suppression/bounces/{GONE2}") == []
    again = post_form(ada, "/ui/suppressions/remove", {"list": "bounces", "email": GONE2})
    assert again.status_code == 404 and f"{GONE2} is not on the bounces list" in again.text
    assert ada.get("/ui/suppressions?list=bounces").text.count('class="danger"') == 1
    # Bounces and the other event-made lists have no add (the API has none): refused.
    fields = {"list": "bounces", "recipient_emails": "a@x.io"}
    forged = post_form(ada, "/ui/suppressions/add", fields)
    assert forged.status_code == 403
    assert api(world, "GET", "/v3/suppression/bounces/a@x.io") == []


def test_a_bad_address_is_shown_beside_the_field_and_nothing_is_saved(
    world: World, ada: httpx.Client
) -> None:
    typed = "fine@x.io, not-an-email"
    fields = {"list": "unsubscribes", "recipient_emails": typed}
    bad = post_form(ada, "/ui/suppressions/add", fields)
    assert bad.status_code == 400
    assert 'data-field-error="recipient_emails">Does not contain a valid address.' in bad.text
    assert 'aria-invalid="true"' in bad.text and typed in bad.text  # what was typed stays
    assert api(world, "GET", "/v3/asm/suppressions/global/fine@x.io") == {}  # none of it saved
    empty = post_form(ada, "/ui/suppressions/add", {"list": "unsubscribes", "recipient_emails": ""})
    assert empty.status_code == 400 and 'data-field-error="recipient_emails"' in empty.text
    groups = api(world, "GET", "/v3/asm/groups")
    long_name = post_form(ada, "/ui/suppressions/add", {"list": "groups", "name": "n" * 31})
    assert long_name.status_code == 400
    assert 'data-field-error="name">name is required and at most 30 characters' in long_name.text
    assert api(world, "GET", "/v3/asm/groups") == groups


def made_group(world: World, name: str, token: str = "") -> int:
    return int(api(world, "POST", "/v3/asm/groups", {"name": name}, token)["id"])


def test_unsubscribe_groups(world: World, ada: httpx.Client) -> None:
    fields = {"list": "groups", "name": "Newsletter", "description": "Weekly news"}
    created = post_form(ada, "/ui/suppressions/add", {**fields, "is_default": "true"})
    assert created.status_code == 303
    group = next(g for g in api(world, "GET", "/v3/asm/groups") if g["name"] == "Newsletter")
    assert group["description"] == "Weekly news" and group["is_default"] is True
    tab = ada.get("/ui/suppressions?list=groups")
    assert f'href="/ui/suppressions/groups/{group["id"]}">Newsletter<' in tab.text
    assert f'data-testid="count-{group["id"]}">0<' in tab.text
    duplicate = post_form(ada, "/ui/suppressions/add", fields)
    assert duplicate.status_code == 400 and 'data-field-error="name">another' in duplicate.text

    path = f"/ui/suppressions/groups/{group['id']}"
    added = post_form(ada, path + "/add", {"recipient_emails": "a@news.io b@news.io c@other.io"})
    assert added.status_code == 303
    suppressed = api(world, "GET", f"/v3/asm/groups/{group['id']}/suppressions")
    assert suppressed == ["a@news.io", "b@news.io", "c@other.io"]
    page = ada.get(path)
    assert sorted(emails_on(page)) == suppressed and 'data-testid="count">3<' in page.text
    assert "Added by hand" in row_of(page, "a@news.io")
    assert sorted(emails_on(ada.get(path, params={"email": "@news"}))) == ["a@news.io", "b@news.io"]
    bad = post_form(ada, path + "/add", {"recipient_emails": "nope"})
    assert bad.status_code == 400 and 'data-field-error="recipient_emails"' in bad.text
    removed = post_form(ada, path + "/remove", {"email": "b@news.io"})
    assert removed.status_code == 303
    assert api(world, "GET", f"/v3/asm/groups/{group['id']}/suppressions") == [
        "a@news.io",
        "c@other.io",
    ]
    assert ada.get("/ui/suppressions/groups/999999").status_code == 404
    assert ada.get("/ui/suppressions/groups/x").status_code == 404


def test_another_account_sees_and_changes_none_of_acme(world: World) -> None:
    bo = signed_in(world.server, "bo@globex.example")
    for name in FILLED:
        shown = bo.get(f"/ui/suppressions?list={name}")
        assert emails_on(shown) == ([SHARED] if name == "unsubscribes" else []), name
        assert all(e not in shown.text for e in (GONE, BAD, BLOCKED, COMPLAINT, UNSUBSCRIBED))
    theirs = made_group(world, "Acme only")
    assert "Acme only" not in bo.get("/ui/suppressions?list=groups").text
    assert bo.get(f"/ui/suppressions/groups/{theirs}").status_code == 404
    for action in ("add", "remove"):
        fields = {"recipient_emails": "x@bo.io", "email": "x@bo.io"}
        forged = post_form(bo, f"/ui/suppressions/groups/{theirs}/{action}", fields)
        assert forged.status_code == 404
    assert api(world, "GET", f"/v3/asm/groups/{theirs}/suppressions") == []
    mine = api(world, "GET", "/v3/asm/suppressions/global/x@bo.io", token=world.globex)
    assert mine == {}  # nor went the address to globex's global list, as the API would

    forged = post_form(bo, "/ui/suppressions/remove", {"list": "bounces", "email": GONE})
    assert forged.status_code == 404 and api(world, "GET", f"/v3/suppression/bounces/{GONE}")
    removed = post_form(bo, "/ui/suppressions/remove", {"list": "unsubscribes", "email": SHARED})
    assert removed.status_code == 303
    gone = api(world, "GET", f"/v3/asm/suppressions/global/{SHARED}", token=world.globex)
    assert gone == {}
    assert api(world, "GET", f"/v3/asm/suppressions/global/{SHARED}") == {"recipient_email": SHARED}


def test_support_reads_but_sees_no_buttons_and_its_posts_are_refused(world: World) -> None:
    help_desk = signed_in(world.server, "help@acme.example")
    bounces = help_desk.get("/ui/suppressions?list=bounces")
    assert GONE in emails_on(bounces) and "Remove" not in bounces.text
    unsubscribes = help_desk.get("/ui/suppressions?list=unsubscribes")
    assert 'action="/ui/suppressions/add"' not in unsubscribes.text
    groups = help_desk.get("/ui/suppressions?list=groups")
    assert 'action="/ui/suppressions/add"' not in groups.text
    group = made_group(world, "Support sees")
    api(world, "POST", f"/v3/asm/groups/{group}/suppressions", {"recipient_emails": ["s@x.io"]})
    page = help_desk.get(f"/ui/suppressions/groups/{group}")
    assert emails_on(page) == ["s@x.io"] and "Remove" not in page.text and "/add" not in page.text

    posts = [
        ("/ui/suppressions/remove", {"list": "bounces", "email": GONE}),
        ("/ui/suppressions/add", {"list": "unsubscribes", "recipient_emails": "h@x.io"}),
        ("/ui/suppressions/add", {"list": "groups", "name": "By support"}),
        (f"/ui/suppressions/groups/{group}/add", {"recipient_emails": "h@x.io"}),
        (f"/ui/suppressions/groups/{group}/remove", {"email": "s@x.io"}),
    ]
    for path, fields in posts:
        assert post_form(help_desk, path, fields).status_code == 403, path
    assert api(world, "GET", f"/v3/suppression/bounces/{GONE}")
    assert api(world, "GET", "/v3/asm/suppressions/global/h@x.io") == {}
    assert all(g["name"] != "By support" for g in api(world, "GET", "/v3/asm/groups"))
    assert api(world, "GET", f"/v3/asm/groups/{group}/suppressions") == ["s@x.io"]


def test_lists_are_paginated(world: World, ada: httpx.Client) -> None:
    bulk = [f"page{n:02}@bulk.example" for n in range(30)]
    api(world, "POST", "/v3/asm/suppressions/global", {"recipient_emails": bulk})
    query = {"list": "unsubscribes", "email": "@bulk.example"}
    first = ada.get("/ui/suppressions", params=query)
    assert len(emails_on(first)) == 25 and 'rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    second = ada.get("/ui/suppressions", params={**query, "page": "2"})
    assert len(emails_on(second)) == 5 and 'rel="next"' not in second.text
    assert "email=%40bulk.example" in second.text  # the links keep the search
    assert sorted(emails_on(first) + emails_on(second)) == bulk

    group = made_group(world, "Paged")
    api(world, "POST", f"/v3/asm/groups/{group}/suppressions", {"recipient_emails": bulk})
    path = f"/ui/suppressions/groups/{group}"
    assert len(emails_on(ada.get(path))) == 25
    assert len(emails_on(ada.get(path, params={"page": "2"}))) == 5


@pytest.fixture
def browser(world: World) -> Iterator[Browser]:
    with browser_on(world.server) as found:
        yield found


def test_a_support_person_finds_and_removes_an_unsubscribe(browser: Browser, world: World) -> None:
    api(world, "POST", "/v3/asm/suppressions/global", {"recipient_emails": ["flow@click.example"]})
    browser.sign_in("ada@acme.example")
    page = browser.page
    page.get_by_role("link", name="Suppressions").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Suppressions"
    assert page.locator('tr[data-email="gone@example.com"]').count() == 1
    browser.screenshots("suppressions")
    page.get_by_role("link", name="Global unsubscribes").click()
    page.get_by_label("Search by address").fill("@click.example")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    assert page.locator("tr[data-email]").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Remove").click()
    page.wait_for_url("**/ui/suppressions?list=unsubscribes&email=%40click.example")
    assert page.get_by_text("No address containing “@click.example”").is_visible()
    assert api(world, "GET", "/v3/asm/suppressions/global/flow@click.example") == {}
    browser.go("/ui/suppressions?list=groups")
    browser.screenshots("suppressions-groups")
