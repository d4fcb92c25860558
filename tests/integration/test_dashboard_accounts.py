"""The operator's Accounts pages against a real server with two accounts: creating an account
(the API's messages beside the fields), disabling and enabling it, an account's users (added
with a password shown once, removed, given a new password), the operators, pagination, and
members refused everywhere; in chromium, an account made, a user added who signs in, and
that user refused once the account is disabled."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.support.api import admin
from tests.support.dashboard import (
    HIDDEN_TOKEN,
    add_user,
    browser_on,
    post_form,
    sign_in,
    signed_in,
    ui_client,
)
from tests.support.server import ScaisendServer

OPERATOR = "op@scaisend.example"
SHOWN_PASSWORD = re.compile(r'data-testid="password">([^<]+)<')


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    made = make_module_server()
    made.token("acme"), made.token("globex")  # the accounts
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    add_user(made, "--operator", "--email", OPERATOR)
    return made


@pytest.fixture(scope="module")
def operator(server: ScaisendServer) -> httpx.Client:
    return signed_in(server, OPERATOR)


def subuser(server: ScaisendServer, name: str) -> httpx.Response:
    op = server.command("token", "--operator").stdout.split()[-1]
    return admin(server, op, "GET", f"/v3/subusers/{name}")


def op_post(client: httpx.Client, path: str, fields: dict[str, str]) -> httpx.Response:
    """A form post as the operator's page sends it (the operator's pages start at Accounts)."""
    token = HIDDEN_TOKEN.search(client.get("/ui/accounts").text)
    assert token is not None
    return client.post(path, data={"csrf_token": token.group(1), **fields})


def shown_password(page: httpx.Response) -> str:
    found = SHOWN_PASSWORD.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def test_members_get_the_403_page_and_their_posts_change_nothing(server: ScaisendServer) -> None:
    member = signed_in(server, "ada@acme.example")  # acme's admin, not the operator
    for path in ("/ui/accounts", "/ui/accounts/globex", "/ui/accounts/acme", "/ui/operators"):
        answer = member.get(path)
        assert answer.status_code == 403 and "text/html" in answer.headers["content-type"], path
        assert "bo@globex.example" not in answer.text and OPERATOR not in answer.text, path
    posts = {
        "/ui/accounts": {"username": "mallory", "email": "m@example.com"},
        "/ui/accounts/globex/state": {"disabled": "true"},
        "/ui/accounts/globex/users": {"email": "spy@example.com", "role": "admin"},
        "/ui/accounts/globex/users/remove": {"email": "bo@globex.example"},
        "/ui/accounts/globex/users/password": {"email": "bo@globex.example"},
    }
    for path, fields in posts.items():  # with the member's own valid CSRF token
        assert post_form(member, path, fields).status_code == 403, path
    assert subuser(server, "mallory").status_code == 404
    assert subuser(server, "globex").json()["disabled"] is False
    assert sign_in(ui_client(server), "bo@globex.example").status_code == 303  # unchanged
    assert sign_in(ui_client(server), "spy@example.com").status_code == 401


def test_a_forged_post_without_the_token_changes_nothing(
    server: ScaisendServer, operator: httpx.Client
) -> None:
    forged = operator.post("/ui/accounts", data={"username": "forged", "email": "f@example.com"})
    assert forged.status_code == 303 and forged.headers["location"] == "/ui/sign-in"
    assert subuser(server, "forged").status_code == 404
    forged = operator.post("/ui/accounts/globex/state", data={"csrf_token": "x", "disabled": "1"})
    assert forged.status_code == 303 and subuser(server, "globex").json()["disabled"] is False


def test_bad_input_is_shown_beside_the_field_and_nothing_is_made(
    server: ScaisendServer, operator: httpx.Client
) -> None:
    bad = op_post(operator, "/ui/accounts", {"username": "no spaces", "email": "x@example.com"})
    assert bad.status_code == 400
    assert re.search(r'data-field-error="username">[^<]*matching regex', bad.text), bad.text
    assert 'value="no spaces"' in bad.text  # what was typed is kept
    assert subuser(server, "no spaces").status_code == 404
    bad = op_post(operator, "/ui/accounts", {"username": "newco", "email": "not-an-email"})
    assert bad.status_code == 400 and 'data-field-error="email"' in bad.text
    assert subuser(server, "newco").status_code == 404
    taken = op_post(operator, "/ui/accounts", {"username": "acme", "email": "a@example.com"})
    assert taken.status_code == 409
    assert re.search(r'data-field-error="username">username exists', taken.text), taken.text
    fields = {"email": "nope", "role": "admin"}
    bad = op_post(operator, "/ui/accounts/globex/users", fields)
    assert bad.status_code == 400 and 'data-field-error="email"' in bad.text
    assert 'data-testid="password"' not in bad.text
    fields = {"email": "ok@globex.example", "role": "owner"}
    bad = op_post(operator, "/ui/accounts/globex/users", fields)
    assert bad.status_code == 400 and 'data-field-error="role"' in bad.text
    taken = op_post(operator, "/ui/accounts/globex/users", {"email": "ada@acme.example"})
    assert taken.status_code == 400 and 'data-field-error="role"' in taken.text
    fields = {"email": "ada@acme.example", "role": "support"}
    taken = op_post(operator, "/ui/accounts/globex/users", fields)
    assert taken.status_code == 400 and re.search(r'data-field-error="email">a user', taken.text)
    assert "ok@globex.example" not in operator.get("/ui/accounts/globex").text


def test_users_of_one_account_are_not_reached_through_another(
    server: ScaisendServer, operator: httpx.Client
) -> None:
    page = operator.get("/ui/accounts/globex")
    assert page.status_code == 200 and "bo@globex.example" in page.text
    assert "ada@acme.example" not in page.text
    for action in ("remove", "password"):
        for email in ("ada@acme.example", OPERATOR):  # acme's user, the operator, via globex
            answer = op_post(operator, f"/ui/accounts/globex/users/{action}", {"email": email})
            assert answer.status_code == 404, (action, email)
    assert sign_in(ui_client(server), "ada@acme.example").status_code == 303  # untouched
    assert op_post(operator, "/ui/accounts/nobody/users", {"email": "x@example.com"}).is_error
    assert operator.get("/ui/accounts/nobody").status_code == 404


def test_add_reset_and_remove_a_user(server: ScaisendServer, operator: httpx.Client) -> None:
    fields = {"email": "Cy@Globex.example", "role": "support"}
    added = op_post(operator, "/ui/accounts/globex/users", fields)
    assert added.status_code == 201, added.text
    first = shown_password(added)
    assert len(first) >= 12 and "cy@globex.example" in added.text
    page = operator.get("/ui/accounts/globex")
    assert "cy@globex.example" in page.text and first not in page.text  # shown once
    cy = ui_client(server)
    assert sign_in(cy, "cy@globex.example", first).status_code == 303
    assert cy.get("/ui/").status_code == 200
    reset = op_post(operator, "/ui/accounts/globex/users/password", {"email": "cy@globex.example"})
    second = shown_password(reset)
    assert second != first and second not in operator.get("/ui/accounts/globex").text
    assert cy.get("/ui/").headers["location"] == "/ui/sign-in"  # the reset ended the session
    assert sign_in(ui_client(server), "cy@globex.example", first).status_code == 401
    assert sign_in(cy, "cy@globex.example", second).status_code == 303
    removed = op_post(operator, "/ui/accounts/globex/users/remove", {"email": "cy@globex.example"})
    assert removed.status_code == 303
    assert cy.get("/ui/").headers["location"] == "/ui/sign-in"  # the removal ended it too
    assert "cy@globex.example" not in operator.get("/ui/accounts/globex").text


def test_disable_and_enable_an_account(server: ScaisendServer, operator: httpx.Client) -> None:
    server.token("initech")
    add_user(server, "--account", "initech", "--email", "pat@initech.example")
    pat = signed_in(server, "pat@initech.example")
    assert op_post(operator, "/ui/accounts/initech/state", {"disabled": "true"}).is_redirect
    assert subuser(server, "initech").json()["disabled"] is True
    refused = pat.get("/ui/")
    assert refused.status_code == 403 and "disabled" in refused.text
    assert 'data-testid="state-initech">disabled<' in operator.get("/ui/accounts").text
    back = {"disabled": "false", "back": "/ui/accounts/initech"}
    enabled = op_post(operator, "/ui/accounts/initech/state", back)
    assert enabled.headers["location"] == "/ui/accounts/initech"
    assert subuser(server, "initech").json()["disabled"] is False
    assert pat.get("/ui/").status_code == 200
    bad = op_post(operator, "/ui/accounts/initech/state", {"disabled": "maybe"})
    assert bad.status_code == 400 and subuser(server, "initech").json()["disabled"] is False
    assert op_post(operator, "/ui/accounts/nobody/state", {"disabled": "true"}).status_code == 404


def test_lists_are_paginated(server: ScaisendServer, operator: httpx.Client) -> None:
    server.token("paged")
    for i in range(3):
        fields = {"email": f"u{i}@paged.example", "role": "developer"}
        assert op_post(operator, "/ui/accounts/paged/users", fields).status_code == 201
        fields = {"username": f"zz-paged{i}", "email": f"z{i}@paged.example"}
        assert op_post(operator, "/ui/accounts", fields).status_code == 303
    add_user(server, "--operator", "--email", "op2@scaisend.example")
    first = operator.get("/ui/accounts/paged?per_page=2")
    assert "u0@paged.example" in first.text and "u1@paged.example" in first.text
    assert "u2@paged.example" not in first.text and 'rel="next"' in first.text
    second = operator.get("/ui/accounts/paged?per_page=2&page=2")
    assert "u2@paged.example" in second.text and 'rel="next"' not in second.text
    accounts = operator.get("/ui/accounts?per_page=2&page=2").text
    assert 'rel="prev"' in accounts and 'rel="next"' in accounts
    names = re.findall(r'data-account="([^"]+)"', accounts)
    assert len(names) == 2 and names[0] > "acme"
    operators = operator.get("/ui/operators?per_page=1").text
    assert re.findall(r'data-user="([^"]+)"', operators) == ["op2@scaisend.example"]
    assert 'rel="next"' in operators
    second_page = operator.get("/ui/operators?per_page=1&page=2").text
    assert re.findall(r'data-user="([^"]+)"', second_page) == [OPERATOR]


def test_the_operator_creates_an_account_whose_user_is_refused_once_disabled(
    server: ScaisendServer,
) -> None:
    with browser_on(server) as browser:
        page = browser.page
        browser.sign_in(OPERATOR)
        page.wait_for_url(f"{server.base_url}/ui/accounts")
        page.get_by_label("Name").fill("hooli")
        page.get_by_label("Email").fill("admin@hooli.example")
        page.get_by_role("button", name="Create account").click()
        page.wait_for_url(f"{server.base_url}/ui/accounts/hooli")
        page.get_by_label("Email").fill("gavin@hooli.example")
        page.get_by_label("Role").select_option("admin")
        page.get_by_role("button", name="Add user").click()
        password = page.get_by_test_id("password").inner_text()
        browser.screenshots("accounts-user-added")
        gavin = ui_client(server)
        assert sign_in(gavin, "gavin@hooli.example", password).status_code == 303
        assert gavin.get("/ui/").status_code == 200
        page.goto(f"{server.base_url}/ui/accounts/hooli")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Disable hooli").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("state").inner_text() == "disabled"
        browser.screenshots("accounts-account")
        page.get_by_role("link", name="Accounts", exact=True).first.click()
        page.wait_for_url(f"{server.base_url}/ui/accounts")
        assert page.get_by_test_id("state-hooli").inner_text() == "disabled"
        browser.screenshots("accounts")
        refused = gavin.get("/ui/")
        assert refused.status_code == 403 and "disabled" in refused.text
