"""`/v3/templates` against a real server: templates and versions as SendGrid's API (shapes,
activation, duplication, paging), scopes, accounts kept apart, and a send through a dynamic
template using SendGrid's helpers delivered to the recipients' MX."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.api import admin, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
VERSION_KEYS = {
    "id",
    "template_id",
    "active",
    "name",
    "subject",
    "html_content",
    "plain_content",
    "generate_plain_content",
    "editor",
    "updated_at",
}


@pytest.fixture(scope="module")
def shared(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    """One server for the tests that only call the API, each as an account of its own."""
    return make_module_server()


def create(server: ScaisendServer, token: str, **body: Any) -> dict[str, Any]:
    response = admin(server, token, "POST", "/v3/templates", body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_version(
    server: ScaisendServer, token: str, template_id: str, **body: Any
) -> dict[str, Any]:
    body.setdefault("subject", "Hi {{name}}")
    path = f"/v3/templates/{template_id}/versions"
    response = admin(server, token, "POST", path, body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def errors_of(response: httpx.Response) -> list[tuple[str | None, str]]:
    return [(e["field"], e["message"]) for e in response.json()["errors"]]


def key(server: ScaisendServer, token: str, *scopes: str) -> str:
    body = {"name": "k", "environment": "live", "scopes": list(scopes)}
    response = admin(server, token, "POST", "/v3/api_keys", body)
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def test_templates_and_versions_as_sendgrid(shared: ScaisendServer) -> None:
    token = shared.token("versions")
    template = create(shared, token, name="Receipt", generation="dynamic")
    assert re.fullmatch(r"d-[0-9a-f]{32}", template["id"])
    assert template["name"] == "Receipt" and template["versions"] == []
    assert TIME.match(template["updated_at"])
    legacy = create(shared, token, name="Old style")
    assert legacy["generation"] == "legacy" and "-" in legacy["id"]
    tid = template["id"]

    first = add_version(
        shared, token, tid, name="v1", html_content="<p>Hello {{name}}</p>", active=0
    )
    assert set(first) == VERSION_KEYS and first["active"] == 1
    assert first["plain_content"] == "Hello {{name}}" and first["generate_plain_content"] is True
    assert first["editor"] == "code" and first["template_id"] == tid
    second = add_version(
        shared,
        token,
        tid,
        name="v2",
        subject="Receipt for {{name}}",
        html_content="<p>Thanks</p>",
        plain_content="Thanks",
        editor="design",
        test_data='{"name": "Ada"}',
    )
    assert second["active"] == 0 and second["test_data"] == '{"name": "Ada"}'
    assert "thumbnail_url" not in second

    activated = admin(
        shared, token, "POST", f"/v3/templates/{tid}/versions/{second['id']}/activate"
    )
    assert activated.status_code == 200 and activated.json()["active"] == 1
    shown = admin(shared, token, "GET", f"/v3/templates/{tid}").json()
    assert [(v["name"], v["active"]) for v in shown["versions"]] == [("v1", 0), ("v2", 1)]

    version_path = f"/v3/templates/{tid}/versions/{first['id']}"
    patched = admin(shared, token, "PATCH", version_path, {"subject": "Hello again"})
    assert patched.status_code == 200 and patched.json()["subject"] == "Hello again"
    assert admin(shared, token, "GET", version_path).json()["subject"] == "Hello again"
    renamed = admin(shared, token, "PATCH", f"/v3/templates/{tid}", {"name": "Receipts"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Receipts"
    assert len(renamed.json()["versions"]) == 2

    copy = admin(shared, token, "POST", f"/v3/templates/{tid}", {"name": "Receipt B"})
    assert copy.status_code == 201, copy.text
    assert copy.json()["id"] != tid and copy.json()["name"] == "Receipt B"
    assert [v["active"] for v in copy.json()["versions"]] == [0, 1]
    unnamed = admin(shared, token, "POST", f"/v3/templates/{tid}")
    assert unnamed.status_code == 201 and unnamed.json()["name"] == "Receipts Copy"

    active_path = f"/v3/templates/{tid}/versions/{second['id']}"
    refused = admin(shared, token, "DELETE", active_path)
    assert refused.status_code == 400 and errors_of(refused)[0][0] == "version_id"
    assert admin(shared, token, "DELETE", version_path).status_code == 204
    assert admin(shared, token, "GET", version_path).status_code == 404
    assert admin(shared, token, "DELETE", f"/v3/templates/{tid}").status_code == 204
    gone = admin(shared, token, "GET", f"/v3/templates/{tid}")
    assert gone.status_code == 404
    assert gone.json() == {
        "errors": [{"message": f"template {tid} not found", "field": "template_id", "help": None}]
    }


def test_bad_requests_name_the_field(shared: ScaisendServer) -> None:
    token = shared.token("bad-requests")
    tid = create(shared, token, name="T", generation="dynamic")["id"]
    path = f"/v3/templates/{tid}/versions"
    cases = [
        ({"name": "v"}, "subject"),
        ({"subject": "s"}, "name"),
        ({"name": "v", "subject": "s", "html_content": "{{#each items}}"}, "html_content"),
        ({"name": "v", "subject": "s", "active": 2}, "active"),
        ({"name": "v", "subject": "s", "editor": "word"}, "editor"),
        ({"name": "v", "subject": "s", "test_data": {"a": 1}}, "test_data"),
        ({"name": "v", "subject": "s", "test_data": "not json"}, "test_data"),
        ({"name": "v", "subject": "s", "html": "typo"}, "html"),
    ]
    for body, field in cases:
        response = admin(shared, token, "POST", path, body)
        assert response.status_code == 400, (body, response.text)
        assert errors_of(response)[0][0] == field, (body, response.text)
    read_back = add_version(shared, token, tid, name="v")
    again = admin(shared, token, "PATCH", f"{path}/{read_back['id']}", read_back)
    assert again.status_code == 200, again.text
    bad_generation = admin(
        shared, token, "POST", "/v3/templates", {"name": "x", "generation": "new"}
    )
    assert bad_generation.status_code == 400 and errors_of(bad_generation)[0][0] == "generation"


def test_paging_follows_sendgrid(shared: ScaisendServer) -> None:
    token = shared.token("paging")
    dynamic = [create(shared, token, name=f"d{i}", generation="dynamic")["id"] for i in range(5)]
    legacy = create(shared, token, name="legacy")["id"]
    for query in ("", "?generations=dynamic", "?page_size=0", "?page_size=201", "?page_size=x"):
        response = admin(shared, token, "GET", f"/v3/templates{query}")
        assert response.status_code == 400, query
        assert errors_of(response)[0][0] == "page_size"
    assert (
        errors_of(admin(shared, token, "GET", "/v3/templates?page_size=5&generations=new"))[0][0]
        == "generations"
    )
    bad_token = admin(shared, token, "GET", "/v3/templates?page_size=5&page_token=zz!")
    assert bad_token.status_code == 400 and errors_of(bad_token)[0][0] == "page_token"

    default = admin(shared, token, "GET", "/v3/templates?page_size=10").json()
    assert [t["id"] for t in default["result"]] == [legacy]  # SendGrid lists legacy by default
    url: str | None = f"{shared.base_url}/v3/templates?generations=dynamic&page_size=2"
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    while url:
        response = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page["_metadata"])
        seen += [t["id"] for t in page["result"]]
        url = page["_metadata"].get("next")
    assert seen == dynamic
    assert [m["count"] for m in pages] == [5, 5, 5]
    assert "prev" not in pages[0] and "prev" in pages[1] and "next" not in pages[2]
    assert pages[1]["self"].startswith(f"{shared.base_url}/v3/templates?")
    back = httpx.get(pages[2]["prev"], headers={"Authorization": f"Bearer {token}"}).json()
    assert [t["id"] for t in back["result"]] == dynamic[2:4]
    both = admin(shared, token, "GET", "/v3/templates?page_size=200&generations=legacy,dynamic")
    assert both.json()["_metadata"]["count"] == 6


def test_each_route_needs_its_scope(shared: ScaisendServer) -> None:
    token = shared.token("scopes")
    tid = create(shared, token, name="T", generation="dynamic")["id"]
    vid = add_version(shared, token, tid, name="one")["id"]
    add_version(shared, token, tid, name="two")
    version = f"/v3/templates/{tid}/versions/{vid}"
    routes: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("templates.create", "POST", "/v3/templates", {"name": "n", "generation": "dynamic"}),
        ("templates.read", "GET", "/v3/templates?page_size=10&generations=dynamic", None),
        ("templates.read", "GET", f"/v3/templates/{tid}", None),
        ("templates.update", "PATCH", f"/v3/templates/{tid}", {"name": "renamed"}),
        ("templates.create", "POST", f"/v3/templates/{tid}", {"name": "copy"}),
        (
            "templates.versions.create",
            "POST",
            f"/v3/templates/{tid}/versions",
            {"name": "v", "subject": "s"},
        ),
        ("templates.versions.read", "GET", version, None),
        ("templates.versions.update", "PATCH", version, {"name": "patched"}),
        ("templates.versions.activate.create", "POST", f"{version}/activate", None),
    ]
    everything = [scope for scope, *_ in routes] + ["templates.delete", "templates.versions.delete"]
    for scope, method, path, body in routes:
        without = key(shared, token, *[s for s in everything if s != scope])
        denied = admin(shared, without, method, path, body)
        assert denied.status_code == 403, (scope, denied.text)
        assert scope in errors_of(denied)[0][1]
        allowed = admin(shared, key(shared, token, scope), method, path, body)
        assert allowed.status_code in (200, 201), (scope, allowed.text)
    sender = key(shared, token, "mail.send")
    assert admin(shared, sender, "DELETE", version).status_code == 403
    other = add_version(shared, token, tid, name="three")["id"]
    deleter = key(shared, token, "templates.versions.delete", "templates.delete")
    assert (
        admin(shared, deleter, "DELETE", f"/v3/templates/{tid}/versions/{other}").status_code == 204
    )
    assert admin(shared, sender, "DELETE", f"/v3/templates/{tid}").status_code == 403
    assert admin(shared, deleter, "DELETE", f"/v3/templates/{tid}").status_code == 204


def test_accounts_never_see_each_others_templates(shared: ScaisendServer) -> None:
    mine, theirs = shared.token("mine"), shared.token("another-account")
    tid = create(shared, mine, name="Mine", generation="dynamic", id="d-shared-name")["id"]
    vid = add_version(shared, mine, tid, name="v")["id"]
    version = f"/v3/templates/{tid}/versions/{vid}"
    attempts: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/v3/templates/{tid}", None),
        ("PATCH", f"/v3/templates/{tid}", {"name": "stolen"}),
        ("POST", f"/v3/templates/{tid}", None),
        ("DELETE", f"/v3/templates/{tid}", None),
        ("POST", f"/v3/templates/{tid}/versions", {"name": "v", "subject": "s"}),
        ("GET", version, None),
        ("PATCH", version, {"name": "x"}),
        ("POST", f"{version}/activate", None),
        ("DELETE", version, None),
    ]
    for method, path, body in attempts:
        assert admin(shared, theirs, method, path, body).status_code == 404, (method, path)
    listed = admin(shared, theirs, "GET", "/v3/templates?page_size=10&generations=legacy,dynamic")
    assert listed.json()["result"] == [] and listed.json()["_metadata"]["count"] == 0
    same_id = create(shared, theirs, name="Theirs", generation="dynamic", id="d-shared-name")
    assert same_id["id"] == tid
    assert admin(shared, mine, "GET", f"/v3/templates/{tid}").json()["name"] == "Mine"


RECEIPT_HTML = (
    '<h1>Hi {{insert name "default=Customer"}}</h1>\n'
    '{{#if vip}}<p>VIP since {{formatDate since "MMMM D, YYYY h:mm A" offset}}</p>{{/if}}\n'
    "<ul>{{#each items}}<li>{{@index}}. {{this.title}}"
    "{{#greaterThan this.qty 1}} x{{this.qty}}{{/greaterThan}}</li>{{/each}}</ul>\n"
    '{{#equals status "paid"}}<p>Paid in full</p>{{else}}<p>Due</p>{{/equals}}\n'
    "<p>{{length items}} items; note: {{note}}; raw: {{{badge}}}</p>"
)


def test_a_send_renders_sendgrid_helpers(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    tid = create(scaisend, token, name="Receipt", generation="dynamic")["id"]
    add_version(
        scaisend,
        token,
        tid,
        name="v1",
        subject="{{#if vip}}VIP {{/if}}receipt for {{{name}}}",
        html_content=RECEIPT_HTML,
    )
    data = {
        "name": "Ada & Co",
        "vip": True,
        "since": "2020-01-01T23:00:00Z",
        "offset": "-0800",
        "items": [{"title": "Raft", "qty": 2}, {"title": "Oar", "qty": 1}],
        "status": "paid",
        "note": "<script>x</script>",
        "badge": "<b>gold</b>",
    }
    sender = key(scaisend, token, "mail.send")
    body = {
        "personalizations": [{"to": [{"email": "ada@example.com"}], "dynamic_template_data": data}],
        "from": {"email": "hello@mail.example.com"},
        "template_id": tid,
    }
    sent = httpx.post(
        f"{scaisend.base_url}/v3/mail/send",
        json=body,
        headers={"Authorization": f"Bearer {sender}"},
        timeout=30,
    )
    assert sent.status_code == 202, sent.text
    message = email.message_from_bytes(sink.wait_for(1)[0].data, policy=email.policy.default)
    assert message["Subject"] == "VIP receipt for Ada & Co"
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert "<h1>Hi Ada &amp; Co</h1>" in html
    assert "<p>VIP since January 1, 2020 3:00 PM</p>" in html
    assert "<li>0. Raft x2</li><li>1. Oar</li>" in html
    assert "<p>Paid in full</p>" in html
    assert "<p>2 items; note: &lt;script&gt;x&lt;/script&gt;; raw: <b>gold</b></p>" in html
    text = text_part.get_content()
    assert "Hi Ada &amp; Co" in text and "0. Raft x2" in text and "Paid in full" in text

    broken = dict(
        body,
        personalizations=[
            {
                "to": [{"email": "bob@example.com"}],
                "dynamic_template_data": dict(data, offset="PST"),
            }
        ],
    )
    refused = httpx.post(
        f"{scaisend.base_url}/v3/mail/send",
        json=broken,
        headers={"Authorization": f"Bearer {sender}"},
        timeout=30,
    )
    assert refused.status_code == 400, refused.text
    [(field, text)] = errors_of(refused)
    assert field == "template_id" and tid in text and "PST" in text
    missing = httpx.post(
        f"{scaisend.base_url}/v3/mail/send",
        json=dict(body, template_id="d-" + "0" * 32),
        headers={"Authorization": f"Bearer {sender}"},
        timeout=30,
    )
    assert missing.status_code == 400 and errors_of(missing)[0][0] == "template_id"
    assert json.loads(refused.text)["errors"][0]["help"] is None
