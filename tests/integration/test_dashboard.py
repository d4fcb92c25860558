"""The dashboard at /ui/ against a real server, with two accounts: sign-in (a CSRF token on
the form, throttled failures shown on it), the Overview's numbers as /v3/stats counts them
after mail to the mailbox simulator, a CSP on every response, no cross-account data, the
operator's account switch; and, in Debian's chromium, the same as a user clicks it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.api import admin, new_key, post_send
from tests.support.dashboard import (
    HIDDEN_TOKEN,
    PASSWORD,
    Browser,
    add_user,
    browser_on,
    sign_in,
    ui_client,
)
from tests.support.server import ScaisendServer

SENT = ["ada@example.com", "open@example.com", "bounce@example.com"]
UNAUTHORIZED = "Failed to load resource: the server responded with a status of 401 (Unauthorized)"
SHOWN = ("requests", "delivered", "bounces", "opens", "clicks")


def today_stats(server: ScaisendServer, token: str) -> dict[str, int]:
    day = datetime.now(UTC).date().isoformat()
    found = admin(server, token, "GET", f"/v3/stats?start_date={day}")
    assert found.status_code == 200, found.text
    return dict(found.json()[-1]["stats"][0]["metrics"])


def send_to_the_simulator(server: ScaisendServer, token: str) -> dict[str, int]:
    """Three mails with a test key; today's stats once every outcome is counted (at most 60 s)."""
    made = admin(server, token, "POST", "/api/admin/domains", {"domain": "mail.example.com"})
    assert made.status_code in (200, 201), made.text
    key = new_key(server, token, ["mail.send"], env="test")
    body = {
        "personalizations": [{"to": [{"email": a}]} for a in SENT],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Dashboard",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }
    sent = post_send(server, key, body)
    assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stats = today_stats(server, token)
        if stats["delivered"] == 2 and stats["bounces"] == 1 and stats["opens"] == 1:
            return stats
        time.sleep(0.2)
    raise AssertionError(f"the simulator's outcomes were not counted: {stats}")


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    made = make_module_server()
    made.token("acme"), made.token("globex")  # the accounts
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    add_user(made, "--operator", "--email", "op@scaisend.example")
    return made


@pytest.fixture(scope="module")
def sent(server: ScaisendServer) -> dict[str, int]:
    return send_to_the_simulator(server, server.token("acme"))


def csp_of(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def test_every_ui_response_has_the_csp_and_signed_out_pages_redirect(
    server: ScaisendServer,
) -> None:
    client = ui_client(server)
    for path in ("/ui/", "/ui/activity", "/ui/sign-in", "/ui/static/ui.css", "/ui/static/nope"):
        answer = client.get(path)
        policy = csp_of(answer)
        assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'", path
        assert policy["form-action"] == "'self'" and policy["connect-src"] == "'self'", path
    assert client.get("/ui/").status_code == 303 and client.get("/ui").status_code == 303
    assert client.get("/ui/").headers["location"] == "/ui/sign-in"
    page = client.get("/ui/sign-in").text
    assert "<script>" not in page and "style=" not in page
    assert client.get("/ui/static/htmx/htmx.min.js").status_code == 200


def test_sign_in_needs_the_form_token_and_shows_the_throttle(server: ScaisendServer) -> None:
    client = ui_client(server)
    forged = client.post(
        "/ui/sign-in", data={"csrf_token": "x", "email": "ada@acme.example", "password": PASSWORD}
    )
    assert forged.status_code == 403 and "The form expired" in forged.text
    assert "scaisend_session" not in forged.headers.get("set-cookie", "")
    add_user(server, "--account", "acme", "--email", "locked@acme.example")
    for _ in range(5):
        assert sign_in(client, "locked@acme.example", "wrong password!!").status_code == 401
    throttled = sign_in(client, "locked@acme.example", PASSWORD)
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text


def test_sign_in_sets_the_session_cookie_and_sign_out_needs_csrf(server: ScaisendServer) -> None:
    client = ui_client(server)
    answer = sign_in(client, "ada@acme.example")
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers.get_list("set-cookie")
    session = next(c for c in cookie if c.startswith("scaisend_session="))
    assert "HttpOnly" in session and "SameSite=lax" in session
    assert client.post("/ui/sign-out", data={"csrf_token": "forged"}).status_code == 303
    assert client.get("/ui/").status_code == 200  # a forged sign-out ended nothing
    token = HIDDEN_TOKEN.search(client.get("/ui/").text)
    assert token is not None
    assert client.post("/ui/sign-out", data={"csrf_token": token.group(1)}).status_code == 303
    assert client.get("/ui/").headers["location"] == "/ui/sign-in"


def test_a_member_of_another_account_sees_none_of_acme(
    server: ScaisendServer, sent: dict[str, int]
) -> None:
    client = ui_client(server)
    assert sign_in(client, "bo@globex.example").status_code == 303
    page = client.get("/ui/")
    assert page.status_code == 200 and "globex" in page.text
    assert "acme" not in page.text
    assert 'data-testid="requests-total">0<' in page.text
    assert client.get("/ui/accounts").status_code == 403  # the operator's page
    switched = client.post("/ui/accounts/switch", data={"csrf_token": "x", "account": "acme"})
    assert switched.status_code == 403  # not the operator: refused, nothing switched
    assert "acme" not in client.get("/ui/").text


def test_a_support_user_sees_no_admin_pages(server: ScaisendServer) -> None:
    client = ui_client(server)
    assert sign_in(client, "help@acme.example").status_code == 303
    page = client.get("/ui/").text
    assert 'href="/ui/activity"' in page and 'href="/ui/suppressions"' in page
    for hidden in ("api-keys", "domains", "queue", "members", "accounts", "templates"):
        assert f'href="/ui/{hidden}"' not in page, hidden
    assert client.get("/ui/api-keys").status_code == 403
    assert client.get("/ui/activity").status_code == 200


def test_a_member_of_a_disabled_account_gets_a_page_saying_so(server: ScaisendServer) -> None:
    server.token("initech")
    add_user(server, "--account", "initech", "--email", "pat@initech.example")
    client = ui_client(server)
    assert sign_in(client, "pat@initech.example").status_code == 303
    op = server.command("token", "--operator").stdout.split()[-1]
    body = {"disabled": True}
    assert admin(server, op, "PATCH", "/v3/subusers/initech", body).status_code == 204
    refused = client.get("/ui/")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/html")
    assert "disabled" in refused.text and 'role="alert"' in refused.text
    assert "content-security-policy" in refused.headers


@pytest.fixture
def browser(server: ScaisendServer) -> Iterator[Browser]:
    with browser_on(server) as found:
        yield found


def test_a_member_signs_in_sees_the_overview_and_signs_out(
    browser: Browser, server: ScaisendServer, sent: dict[str, int]
) -> None:
    page = browser.page
    browser.sign_in("ada@acme.example", "not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    # The form comes back with the API's status (401), which chromium logs as an error.
    assert browser.problems == [UNAUTHORIZED]
    browser.problems.clear()
    browser.screenshots("sign-in-error")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.base_url}/ui/")
    assert page.get_by_test_id("account").inner_text() == "acme"
    assert page.get_by_test_id("user").inner_text() == "ada@acme.example (admin)"
    for metric in SHOWN:
        assert browser.number(metric) == sent[metric], metric
        assert browser.number(metric, "today") == sent[metric], metric
    assert browser.number("delivered") == 2 and browser.number("opens") == 1
    assert page.locator("svg.chart").count() == 7
    browser.screenshots("overview")
    page.get_by_role("link", name="Templates").click()
    page.wait_for_url(f"{server.base_url}/ui/templates")
    assert page.get_by_role("heading", level=1).inner_text() == "Templates"
    page.keyboard.press("Tab")  # the skip link first: the page is keyboard-usable
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.base_url}/ui/sign-in")
    page.goto(f"{server.base_url}/ui/")
    assert page.url == f"{server.base_url}/ui/sign-in"


def test_the_operator_switches_between_accounts(
    browser: Browser, server: ScaisendServer, sent: dict[str, int]
) -> None:
    page = browser.page
    browser.sign_in("op@scaisend.example")
    page.wait_for_url(f"{server.base_url}/ui/accounts")
    assert page.get_by_test_id("account").inner_text() == "No account chosen"
    browser.screenshots("accounts")
    page.get_by_role("button", name="Switch to acme").click()
    page.wait_for_url(f"{server.base_url}/ui/")
    assert page.get_by_test_id("account").inner_text() == "acme"
    assert browser.number("requests") == sent["requests"] and browser.number("bounces") == 1
    page.get_by_role("link", name="Accounts").click()
    page.get_by_role("button", name="Switch to globex").click()
    page.wait_for_url(f"{server.base_url}/ui/")
    assert page.get_by_test_id("account").inner_text() == "globex"
    assert browser.number("requests") == 0 and browser.number("delivered") == 0
