"""The dashboard's Templates page against a real server: templates and versions made, saved,
activated and deleted through the same services as /v3/templates (checked through the API),
the editor's preview rendered with its test data, errors beside their fields, two accounts,
a role without the scope, the list's pages; and, in chromium, the editor as a user types."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.api import admin
from tests.support.dashboard import HIDDEN_TOKEN, add_user, browser_on, post_form, signed_in
from tests.support.server import ScaisendServer

SRCDOC = re.compile(r'<iframe sandbox="" [^>]*srcdoc="([^"]*)"')
LOCATION = re.compile(r"^/ui/templates/(d-[0-9a-f]{32})(?:/versions/([0-9a-f-]{36}))?")
GREETING = "<p>Hello {{first_name}}</p><script>alert('from the template')</script>"
DATA = '{"first_name": "Ada"}'


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    made = make_module_server()
    made.token("acme"), made.token("globex"), made.token("paged")  # the accounts
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    add_user(made, "--account", "paged", "--email", "pat@paged.example", "--role", "developer")
    add_user(made, "--operator", "--email", "op@scaisend.example")
    return made


def api(
    server: ScaisendServer, account: str, method: str, path: str, body: Any = None
) -> httpx.Response:
    return admin(server, server.token(account), method, path, body)


def created_at(path: str) -> tuple[str, str | None]:
    """The template id (and version id) a path names."""
    match = LOCATION.match(path)
    assert match is not None, path
    return match.group(1), match.group(2)


def created(response: httpx.Response) -> tuple[str, str | None]:
    assert response.status_code == 303, response.text
    return created_at(response.headers["location"])


def new_template(client: httpx.Client, name: str) -> str:
    return created(post_form(client, "/ui/templates", {"name": name}))[0]


def new_version(client: httpx.Client, template_id: str, name: str, subject: str) -> str:
    made = post_form(
        client, f"/ui/templates/{template_id}/versions", {"name": name, "subject": subject}
    )
    version_id = created(made)[1]
    assert version_id is not None
    return version_id


def field_error(page: str, field: str) -> str:
    found = re.search(rf'data-field-error="{field}">([^<]*)<', page)
    assert found is not None, f"no error beside {field}"
    return html.unescape(found.group(1))


def editor_fields(**changed: str) -> dict[str, str]:
    return {
        "name": "First",
        "subject": "Hi {{first_name}}",
        "html_content": GREETING,
        "plain_content": "",
        "test_data": DATA,
        **changed,
    }


def test_a_template_and_its_first_version_are_made_through_the_forms(
    server: ScaisendServer,
) -> None:
    ada = signed_in(server, "ada@acme.example")
    template_id = new_template(ada, "Welcome")
    version_id = new_version(ada, template_id, "First", "Hi {{first_name}}")
    found = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    assert (found["name"], found["generation"]) == ("Welcome", "dynamic")
    assert [(v["id"], v["active"]) for v in found["versions"]] == [(version_id, 1)]
    listed = ada.get("/ui/templates").text
    assert "Welcome" in listed and template_id in listed and "First" in listed
    shown = ada.get(f"/ui/templates/{template_id}/versions/{version_id}")
    assert shown.status_code == 200 and "Hi {{first_name}}" in html.unescape(shown.text)


def test_bad_input_is_shown_beside_its_field_and_saves_nothing(server: ScaisendServer) -> None:
    ada = signed_in(server, "ada@acme.example")
    before = api(server, "acme", "GET", "/v3/templates?generations=dynamic&page_size=200")
    refused = post_form(ada, "/ui/templates", {"name": "x" * 101})
    assert refused.status_code == 400
    assert field_error(refused.text, "name") == "name may be at most 100 characters"
    after = api(server, "acme", "GET", "/v3/templates?generations=dynamic&page_size=200")
    assert after.json()["_metadata"]["count"] == before.json()["_metadata"]["count"]
    template_id = new_template(ada, "Receipts")
    no_subject = post_form(ada, f"/ui/templates/{template_id}/versions", {"name": "v1"})
    assert no_subject.status_code == 400
    assert field_error(no_subject.text, "subject") == "subject is required"
    assert api(server, "acme", "GET", f"/v3/templates/{template_id}").json()["versions"] == []


def test_the_preview_renders_the_parts_with_the_test_data(server: ScaisendServer) -> None:
    ada = signed_in(server, "ada@acme.example")
    template_id = new_template(ada, "Preview")
    version_id = new_version(ada, template_id, "First", "Hi")
    path = f"/ui/templates/{template_id}/versions/{version_id}/preview"
    shown = post_form(ada, path, editor_fields())
    assert shown.status_code == 200, shown.text
    assert '<dd data-testid="preview-subject">Hi Ada</dd>' in shown.text
    srcdoc = SRCDOC.search(shown.text)
    assert srcdoc is not None, shown.text  # a sandbox that allows nothing
    framed = html.unescape(srcdoc.group(1))
    assert "<p>Hello Ada</p>" in framed and "script" not in framed and "alert" not in framed
    assert "&lt;script&gt;" in shown.text  # the rendered source, as text
    assert '<pre data-testid="preview-plain">Hello Ada</pre>' in shown.text  # made from HTML
    assert not re.search(r'data-field-error="[a-z_]+">', shown.text)


def test_a_handlebars_error_is_shown_beside_its_field_and_not_saved(
    server: ScaisendServer,
) -> None:
    ada = signed_in(server, "ada@acme.example")
    template_id = new_template(ada, "Broken")
    version_id = new_version(ada, template_id, "First", "Hi")
    path = f"/ui/templates/{template_id}/versions/{version_id}"
    broken = editor_fields(html_content="<p>{{#if}}</p>", subject="Changed {{first_name}}")
    shown = post_form(ada, path + "/preview", broken)
    assert "html_content failed to render" in field_error(shown.text, "html_content")
    assert '<dd data-testid="preview-subject">Changed Ada</dd>' in shown.text  # the rest renders
    bad_data = post_form(ada, path + "/preview", editor_fields(test_data='{"first_name": '))
    assert field_error(bad_data.text, "test_data").startswith("test_data is not JSON")
    saved = post_form(ada, path, broken)
    assert saved.status_code == 400
    assert "html_content is not a valid template" in field_error(saved.text, "html_content")
    assert "Changed {{first_name}}" in html.unescape(saved.text)  # what was typed is kept
    version = api(server, "acme", "GET", f"/v3/templates/{template_id}/versions/{version_id}")
    assert version.json()["subject"] == "Hi" and version.json()["html_content"] == ""


def test_save_activate_and_delete_go_through_the_api_services(server: ScaisendServer) -> None:
    ada = signed_in(server, "ada@acme.example")
    template_id = new_template(ada, "Lifecycle")
    first = new_version(ada, template_id, "First", "Hi")
    second = new_version(ada, template_id, "Second", "Hello")
    base = f"/ui/templates/{template_id}/versions"
    saved = post_form(ada, f"{base}/{second}", editor_fields(name="Second"))
    assert saved.headers["location"] == f"{base}/{second}?saved=1"
    version = api(server, "acme", "GET", f"/v3/templates/{template_id}/versions/{second}").json()
    assert (version["subject"], version["test_data"]) == ("Hi {{first_name}}", DATA)
    assert post_form(ada, f"{base}/{second}/activate", {}).status_code == 303
    found = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    assert {v["id"]: v["active"] for v in found["versions"]} == {first: 0, second: 1}
    kept = post_form(ada, f"{base}/{second}/delete", {})
    assert kept.status_code == 400 and "cannot be deleted" in kept.text
    assert post_form(ada, f"{base}/{first}/delete", {}).status_code == 303
    found = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    assert [v["id"] for v in found["versions"]] == [second]
    gone = post_form(ada, f"/ui/templates/{template_id}/delete", {})
    assert gone.headers["location"] == "/ui/templates"
    assert api(server, "acme", "GET", f"/v3/templates/{template_id}").status_code == 404


def test_another_accounts_templates_are_not_found(server: ScaisendServer) -> None:
    ada, bo = signed_in(server, "ada@acme.example"), signed_in(server, "bo@globex.example")
    template_id = new_template(ada, "Acme only")
    first = new_version(ada, template_id, "First", "Hi")
    second = new_version(ada, template_id, "Second", "Hello")
    before = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    assert "Acme only" not in bo.get("/ui/templates").text
    base = f"/ui/templates/{template_id}"
    for path in (base, f"{base}/versions/{first}"):
        shown = bo.get(path)
        assert shown.status_code == 404 and "Acme only" not in shown.text, path
    posts = {
        f"{base}/versions": {"name": "Theirs", "subject": "x"},
        f"{base}/versions/{first}": editor_fields(subject="Theirs"),
        f"{base}/versions/{first}/preview": editor_fields(),
        f"{base}/versions/{second}/activate": {},
        f"{base}/versions/{second}/delete": {},
        f"{base}/delete": {},
    }
    for path, fields in posts.items():
        answer = post_form(bo, path, fields)
        assert answer.status_code == 404 and "Hello Ada" not in answer.text, path
    assert api(server, "acme", "GET", f"/v3/templates/{template_id}").json() == before


def test_the_operator_switched_into_an_account_works_on_its_templates(
    server: ScaisendServer,
) -> None:
    op = signed_in(server, "op@scaisend.example")
    assert op.get("/ui/templates").headers["location"] == "/ui/accounts"  # none chosen yet
    token = HIDDEN_TOKEN.search(op.get("/ui/accounts").text)  # /ui/ sends it there first
    assert token is not None
    switch = {"csrf_token": token.group(1), "account": "globex"}
    assert op.post("/ui/accounts/switch", data=switch).status_code == 303
    template_id = new_template(op, "Made by the operator")
    found = api(server, "globex", "GET", f"/v3/templates/{template_id}")
    assert found.json()["name"] == "Made by the operator"
    assert api(server, "acme", "GET", f"/v3/templates/{template_id}").status_code == 404


def test_a_support_user_sees_no_templates_and_may_change_none(server: ScaisendServer) -> None:
    ada, helper = signed_in(server, "ada@acme.example"), signed_in(server, "help@acme.example")
    template_id = new_template(ada, "Not for support")
    version_id = new_version(ada, template_id, "First", "Hi")
    assert 'href="/ui/templates"' not in helper.get("/ui/").text
    base = f"/ui/templates/{template_id}"
    for path in ("/ui/templates", base, f"{base}/versions/{version_id}"):
        shown = helper.get(path)
        assert shown.status_code == 403 and "Not for support" not in shown.text, path
    for path in ("/ui/templates", f"{base}/versions/{version_id}", f"{base}/delete"):
        fields = {"name": "Support's"} if path == "/ui/templates" else editor_fields()
        assert post_form(helper, path, fields).status_code == 403, path
    found = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    assert found["versions"][0]["subject"] == "Hi"
    listed = api(server, "acme", "GET", "/v3/templates?generations=dynamic&page_size=200")
    assert "Support's" not in listed.text


def test_the_list_is_shown_a_page_at_a_time(server: ScaisendServer) -> None:
    for number in range(27):
        body = {"name": f"Paged {number:02}", "generation": "dynamic"}
        assert api(server, "paged", "POST", "/v3/templates", body).status_code == 201
    pat = signed_in(server, "pat@paged.example")
    first = pat.get("/ui/templates").text
    assert first.count("<tr data-template=") == 25 and "Paged 24" in first
    assert 'rel="next" href="?page=2"' in first and 'rel="prev"' not in first
    second = pat.get("/ui/templates?page=2").text
    assert second.count("<tr data-template=") == 2 and "Paged 26" in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_a_user_creates_edits_previews_saves_and_activates(server: ScaisendServer) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    with browser_on(server) as browser:
        page, dialogs = browser.page, []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        browser.sign_in("ada@acme.example")
        page.get_by_role("link", name="Templates").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Templates")
        page.get_by_label("Name").fill("Onboarding")
        page.get_by_role("button", name="Create template").click()
        page.get_by_label("Version name").fill("Draft 1")
        page.get_by_label("Subject").fill("Hello")
        page.get_by_role("button", name="Create version").click()
        page.get_by_role("link", name="Onboarding").click()  # a second version to activate
        page.get_by_label("Version name").fill("Draft 2")
        page.get_by_label("Subject").fill("Hi")
        page.get_by_role("button", name="Create version").click()
        template_id, version_id = created_at(page.url.removeprefix(server.base_url))
        page.get_by_label("Subject").fill("Welcome {{first_name}}")
        page.get_by_label("Test data (JSON)").fill(DATA)
        page.get_by_label("HTML content").fill(GREETING)
        frame = page.frame_locator("[data-testid=preview-html]")
        expect(frame.locator("p")).to_have_text("Hello Ada")
        expect(page.get_by_test_id("preview-subject")).to_have_text("Welcome Ada")
        page.get_by_label("HTML content").fill("<p>{{#if}}</p>")
        expect(page.locator("#live-html_content .field-error")).to_contain_text("failed to render")
        page.get_by_label("HTML content").fill(GREETING)
        expect(page.locator("#live-html_content .field-error")).to_have_count(0)
        expect(frame.locator("p")).to_have_text("Hello Ada")
        browser.screenshots("templates-editor")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        page.get_by_role("button", name="Activate this version").click()
        row = page.locator(f"tr[data-version='{version_id}']")
        expect(row.get_by_test_id("active")).to_have_text("active")
        browser.screenshots("templates-detail")
        page.get_by_role("link", name="Templates", exact=True).first.click()
        browser.screenshots("templates")
        assert dialogs == []
    found = api(server, "acme", "GET", f"/v3/templates/{template_id}").json()
    active = [v for v in found["versions"] if v["active"]]
    assert [(v["id"], v["subject"]) for v in active] == [(version_id, "Welcome {{first_name}}")]
