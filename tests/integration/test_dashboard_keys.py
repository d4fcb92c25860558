"""The dashboard's API keys and Members pages against a real server with two accounts: a key
made on the page sends and is refused what it lacks, its secret is shown once, revoking it
makes it 401; members added with a first password shown once, roles changed, removed (their
sessions end), the last admin kept; nothing of one account reachable from the other; and
both flows as a user clicks them in Debian's chromium."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.support.api import admin, get, new_key, post_send
from tests.support.dashboard import add_user, browser_on, post_form, sign_in, signed_in, ui_client
from tests.support.server import ScaisendServer

SECRET = re.compile(r"SS\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
PASSWORD_SHOWN = re.compile(r'data-testid="new-password">([^<]+)<')


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    made = make_module_server()
    made.token("acme"), made.token("globex")  # the accounts
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "dev@acme.example", "--role", "developer")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    domain = {"domain": "mail.example.com"}
    made_domain = admin(made, made.token("acme"), "POST", "/api/admin/domains", domain)
    assert made_domain.status_code in (200, 201), made_domain.text
    return made


def mail(to: str = "ada@example.com") -> dict[str, object]:
    return {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "From the dashboard's key",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }


def create_key(client: httpx.Client, name: str, scopes: list[str], env: str = "test") -> str:
    made = post_form(client, "/ui/api-keys", {"name": name, "environment": env, "scopes": scopes})
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = SECRET.findall(made.text)
    assert len(set(found)) == 1, found  # the new key, and no other secret
    return found[0]


def key_names(server: ScaisendServer, account: str) -> list[str]:
    listed = admin(server, server.token(account), "GET", "/v3/api_keys")
    return [key["name"] for key in listed.json()["result"]]


def field_error(page: str, field: str) -> str:
    found = re.search(rf'data-field-error="{field}">([^<]*)<', page)
    assert found is not None, page
    return found.group(1)


def test_a_key_made_on_the_page_sends_is_shown_once_and_revoked_is_refused(
    server: ScaisendServer,
) -> None:
    client = signed_in(server, "ada@acme.example")
    secret = create_key(client, "ci-sender", ["mail.send"])
    assert post_send(server, secret, mail()).status_code == 202
    refused = get(server, secret, "/v3/api_keys")
    assert refused.status_code == 403 and "api_keys.read" in refused.text  # not granted
    listed = client.get("/ui/api-keys")
    key_id = secret.split(".")[1]
    assert "ci-sender" in listed.text and f"SS.{key_id}.…" in listed.text
    assert secret.split(".")[2] not in listed.text and not SECRET.search(listed.text)
    assert secret.split(".")[2] not in client.get("/ui/api-keys?page=1").text  # never again
    revoked = post_form(client, f"/ui/api-keys/{key_id}/revoke", {})
    assert revoked.status_code == 303 and revoked.headers["location"] == "/ui/api-keys"
    assert post_send(server, secret, mail()).status_code == 401
    assert "ci-sender" not in client.get("/ui/api-keys").text


def test_bad_input_is_shown_beside_its_field_and_makes_no_key(server: ScaisendServer) -> None:
    client = signed_in(server, "ada@acme.example")
    before = key_names(server, "acme")
    cases = [
        ({"name": "  ", "environment": "test", "scopes": ["mail.send"]}, "name", "name is"),
        ({"name": "x", "environment": "test", "scopes": ["nope.read"]}, "scopes", "unknown scope"),
        ({"name": "x", "environment": "prod", "scopes": ["mail.send"]}, "environment", "prod"),
        ({"name": "x", "environment": "test"}, "scopes", "at least one scope"),
    ]
    for fields, field, words in cases:
        answer = post_form(client, "/ui/api-keys", fields)
        assert answer.status_code == 400, (fields, answer.status_code)
        assert words in field_error(answer.text, field), field
        assert not SECRET.search(answer.text)
    kept = post_form(client, "/ui/api-keys", cases[1][0])
    assert 'value="x"' in kept.text  # what was typed stays
    assert key_names(server, "acme") == before


def test_another_account_sees_and_touches_nothing_of_acme(server: ScaisendServer) -> None:
    acme_key = new_key(server, server.token("acme"), ["mail.send"], env="test")
    acme_id = acme_key.split(".")[1]
    client = signed_in(server, "bo@globex.example")
    keys = client.get("/ui/api-keys")
    assert keys.status_code == 200 and acme_id not in keys.text and "ci-" not in keys.text
    gone = post_form(client, f"/ui/api-keys/{acme_id}/revoke", {})
    assert gone.status_code == 404 and "api key not found" in gone.text
    assert post_send(server, acme_key, mail()).status_code == 202  # still works
    people = client.get("/ui/members")
    assert "bo@globex.example" in people.text and "acme.example" not in people.text
    for path, fields in (
        ("/ui/members/remove", {"email": "dev@acme.example"}),
        ("/ui/members/role", {"email": "dev@acme.example", "role": "admin"}),
    ):
        assert post_form(client, path, fields).status_code == 404, path
    ada = signed_in(server, "ada@acme.example")
    assert '<option value="developer" selected>' in member_row(ada, "dev@acme.example")


def member_row(client: httpx.Client, email: str) -> str:
    page = client.get("/ui/members?per_page=100").text
    found = re.search(rf'<tr data-member="{re.escape(email)}">(.*?)</tr>', page, re.S)
    assert found is not None, email
    return found.group(1)


def test_roles_without_the_rights_see_no_page_no_button_and_are_refused(
    server: ScaisendServer,
) -> None:
    support = signed_in(server, "help@acme.example")
    menu = support.get("/ui/").text
    assert 'href="/ui/api-keys"' not in menu and 'href="/ui/members"' not in menu
    before = key_names(server, "acme")
    for path in ("/ui/api-keys", "/ui/members"):
        assert support.get(path).status_code == 403, path
    made = post_form(support, "/ui/api-keys", {"name": "x", "scopes": ["mail.send"]})
    assert made.status_code == 403 and not SECRET.search(made.text)
    assert key_names(server, "acme") == before
    developer = signed_in(server, "dev@acme.example")
    keys = developer.get("/ui/api-keys").text
    assert "Create key" in keys and 'href="/ui/members"' not in keys
    assert developer.get("/ui/members").status_code == 403
    added = post_form(developer, "/ui/members", {"email": "x@acme.example", "role": "admin"})
    assert added.status_code == 403
    promoted = post_form(
        developer, "/ui/members/role", {"email": "dev@acme.example", "role": "admin"}
    )
    assert promoted.status_code == 403
    assert "x@acme.example" not in member_row_page(server)


def member_row_page(server: ScaisendServer) -> str:
    return signed_in(server, "ada@acme.example").get("/ui/members?per_page=100").text


def test_lists_are_paginated(server: ScaisendServer) -> None:
    for _ in range(3):
        new_key(server, server.token("globex"), ["mail.send"], env="test")
    client = signed_in(server, "bo@globex.example")
    first = client.get("/ui/api-keys?per_page=2").text
    assert first.count("<tr data-key=") == 2 and 'rel="next"' in first
    second = client.get("/ui/api-keys?per_page=2&page=2").text
    assert second.count("<tr data-key=") == 1 and 'rel="prev"' in second
    for email in ("a@globex.example", "b@globex.example"):
        assert post_form(client, "/ui/members", {"email": email, "role": "support"}).is_success
    people = client.get("/ui/members?per_page=2").text
    assert people.count("<tr data-member=") == 2 and 'rel="next"' in people
    rest = client.get("/ui/members?per_page=2&page=2").text
    assert re.findall(r'<tr data-member="([^"]+)"', rest) == ["bo@globex.example"]


def test_members_added_with_a_password_shown_once_changed_and_removed(
    server: ScaisendServer,
) -> None:
    client = signed_in(server, "ada@acme.example")
    added = post_form(client, "/ui/members", {"email": "New@Acme.example", "role": "support"})
    assert added.status_code == 200 and added.headers["cache-control"] == "no-store"
    shown = PASSWORD_SHOWN.search(added.text)
    assert shown is not None and len(shown.group(1)) >= 12
    password = shown.group(1)
    assert password not in client.get("/ui/members").text
    newcomer = ui_client(server)
    assert sign_in(newcomer, "new@acme.example", password).status_code == 303
    assert newcomer.get("/ui/api-keys").status_code == 403  # support
    changed = post_form(
        client, "/ui/members/role", {"email": "new@acme.example", "role": "developer"}
    )
    assert changed.status_code == 303
    assert newcomer.get("/ui/api-keys").status_code == 200  # at the next request
    removed = post_form(client, "/ui/members/remove", {"email": "new@acme.example"})
    assert removed.status_code == 303
    assert newcomer.get("/ui/").headers["location"] == "/ui/sign-in"  # its session ended
    assert "new@acme.example" not in client.get("/ui/members").text


def test_member_form_errors_and_the_last_admin_stays(server: ScaisendServer) -> None:
    client = signed_in(server, "ada@acme.example")
    for fields, field, words, status in (
        ({"email": "not-an-email", "role": "support"}, "email", "valid address", 400),
        ({"email": "ok@acme.example", "role": "owner"}, "role", "owner", 400),
        ({"email": "bo@globex.example", "role": "support"}, "email", "exists", 409),
    ):
        answer = post_form(client, "/ui/members", fields)
        assert answer.status_code == status, (fields, answer.text)
        assert words in field_error(answer.text, field), field
        assert not PASSWORD_SHOWN.search(answer.text)
    assert "ok@acme.example" not in client.get("/ui/members").text
    for path, fields in (
        ("/ui/members/role", {"email": "ada@acme.example", "role": "developer"}),
        ("/ui/members/remove", {"email": "ada@acme.example"}),
    ):
        refused = post_form(client, path, fields)
        assert refused.status_code == 409 and "at least one admin" in refused.text, path
    assert '<option value="admin" selected>' in member_row(client, "ada@acme.example")


def test_a_user_makes_a_key_with_the_picker_and_sees_the_secret_once(
    server: ScaisendServer,
) -> None:
    with browser_on(server) as browser:
        page = browser.page
        page.on("dialog", lambda dialog: dialog.accept())
        browser.sign_in("ada@acme.example")
        page.get_by_role("link", name="API keys").click()
        page.wait_for_url(f"{server.base_url}/ui/api-keys")
        page.get_by_label("Name").fill("support desk")
        page.get_by_role("button", name="Read only").click()
        page.get_by_label("messages.read").wait_for()
        page.wait_for_function("document.querySelector('input[value=\"messages.read\"]').checked")
        assert not page.get_by_label("mail.send", exact=True).is_checked()
        page.get_by_role("button", name="Create key").click()
        secret = page.get_by_test_id("new-secret").inner_text()
        assert SECRET.fullmatch(secret)
        browser.screenshots("api-keys-created")
        assert get(server, secret, "/v3/messages", limit=1).status_code == 200
        assert post_send(server, secret, mail()).status_code == 403  # read only
        page.get_by_role("link", name="API keys").click()
        assert page.get_by_test_id("new-secret").count() == 0 and secret not in page.content()
        row = page.locator("tr", has_text="support desk")
        row.get_by_role("button", name="Revoke").click()
        page.wait_for_load_state()
        assert page.locator("tr", has_text="support desk").count() == 0
        assert get(server, secret, "/v3/messages", limit=1).status_code == 401


def test_an_admin_adds_a_member_who_then_signs_in(server: ScaisendServer) -> None:
    with browser_on(server) as browser:
        page = browser.page
        browser.sign_in("ada@acme.example")
        page.get_by_role("link", name="Members").click()
        page.wait_for_url(f"{server.base_url}/ui/members")
        page.get_by_label("Email").fill("grace@acme.example")
        page.get_by_label("Role", exact=True).select_option("developer")
        page.get_by_role("button", name="Add member").click()
        password = page.get_by_test_id("new-password").inner_text()
        browser.screenshots("members-added")
        page.get_by_role("link", name="Members").click()
        assert password not in page.content()
        assert page.locator("tr", has_text="grace@acme.example").count() == 1
        newcomer = ui_client(server)
        assert sign_in(newcomer, "grace@acme.example", password).status_code == 303
        assert "grace@acme.example (developer)" in newcomer.get("/ui/api-keys").text
