"""The API browser against a real server: /docs and its assets come from the server itself
(no other host named, a CSP without inline script), the page reads the server's own
/openapi.json and, in Debian's chromium when it is installed, shows every operation; and the
example body of every operation is accepted by the server."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from mta.services.scopes import ALL_SCOPES
from tests.support.api import admin, publish
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import nameserver_of

EXTERNAL_URL = re.compile(r"(?:https?:)?//[a-z0-9.-]+", re.IGNORECASE)
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css"}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    """Knows only what a test publishes (the example domain's records): the examples' mail
    and webhook tests go nowhere."""
    server = DnsServer("127.0.0.1", 0)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer], dns: DnsServer) -> ScaisendServer:
    return make_module_server(nameserver=nameserver_of(dns))


class PageParts(HTMLParser):
    """What a page loads (script src, stylesheet href), its inline scripts and attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline_scripts: list[str] = []
        self.attributes: dict[str, str] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.attributes.update(found)
        if tag == "script":
            self._in_script = "src" not in found
            if "src" in found:
                self.loads.append(found["src"])
        if tag == "link" and found.get("rel") == "stylesheet":
            self.loads.append(found["href"])

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def page_parts(html: str) -> PageParts:
    parts = PageParts()
    parts.feed(html)
    return parts


def test_docs_is_served_from_the_server_itself(server: ScaisendServer) -> None:
    page = httpx.get(f"{server.base_url}/docs", timeout=10)  # no credentials: public
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "x-ratelimit-limit" not in page.headers  # outside /v3, as /openapi.json
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'", csp
    assert csp["default-src"] == "'none'" and csp["connect-src"] == "'self'", csp
    parts = page_parts(page.text)
    assert parts.inline_scripts == []
    assert not [name for name in parts.attributes if name.startswith("on") or name == "style"]
    assert parts.attributes["data-openapi-url"] == "/openapi.json"
    assert EXTERNAL_URL.findall(page.text) == []
    assert len(parts.loads) == 4, parts.loads
    for path in parts.loads:
        assert path.startswith("/docs/assets/"), path
        asset = httpx.get(f"{server.base_url}{path}", timeout=10)
        assert asset.status_code == 200, (path, asset.status_code)
        kind = CONTENT_TYPES[path[path.rindex(".") :]]
        assert asset.headers["content-type"].startswith(kind), (path, asset.headers)
        if path.endswith("/init.js"):
            assert EXTERNAL_URL.findall(asset.text) == []
            assert "SwaggerUIBundle(" in asset.text and "openapiUrl" in asset.text
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    assert not [path for path in document["paths"] if path.startswith("/docs")]
    missing = httpx.get(f"{server.base_url}/docs/assets/../static.txt", timeout=10)
    assert missing.status_code == 404
    moved = httpx.get(f"{server.base_url}/schema/swagger", timeout=10)  # Litestar's usual path
    assert (moved.status_code, moved.headers["location"]) == (308, "/docs")


# Every operation with a request body, in an order where each finds what it needs: the ids
# created by the ones before (path parameters, and `batch_id` in a body). The test checks
# below that this list is every such operation of the document.
ORDER: list[tuple[str, str]] = [
    ("POST", "/api/admin/domains"),
    ("POST", "/v3/api_keys"),
    ("PUT", "/v3/api_keys/{key_id}"),
    ("PATCH", "/v3/api_keys/{key_id}"),
    ("POST", "/v3/templates"),
    ("POST", "/v3/templates/{template_id}"),
    ("PATCH", "/v3/templates/{template_id}"),
    ("POST", "/v3/templates/{template_id}/versions"),
    ("PATCH", "/v3/templates/{template_id}/versions/{version_id}"),
    ("POST", "/v3/user/webhooks"),
    ("PATCH", "/v3/user/webhooks/{webhook_id}"),
    ("PATCH", "/v3/user/webhooks/event/settings"),
    ("PATCH", "/v3/user/webhooks/event/settings/signed"),
    ("POST", "/v3/user/webhooks/event/test"),
    ("POST", "/v3/user/webhooks/parse/settings"),  # under example.com, verified by then
    ("PATCH", "/v3/user/webhooks/parse/settings/{hostname}"),
    ("POST", "/v3/mail/send"),
    ("POST", "/v3/user/scheduled_sends"),
    ("PATCH", "/v3/user/scheduled_sends/{batch_id}"),
    ("DELETE", "/v3/suppression/bounces"),
    ("DELETE", "/v3/suppression/blocks"),
    ("DELETE", "/v3/suppression/invalid_emails"),
    ("DELETE", "/v3/suppression/spam_reports"),
    ("POST", "/v3/asm/suppressions/global"),
    ("POST", "/v3/asm/groups"),
    ("PATCH", "/v3/asm/groups/{group_id}"),
    ("POST", "/v3/asm/groups/{group_id}/suppressions"),
    ("POST", "/v3/asm/groups/{group_id}/suppressions/search"),
    ("POST", "/v3/subusers"),  # the operator's; its password makes the user signing in next
    ("PATCH", "/v3/subusers/{subuser_name}"),
    ("POST", "/api/session"),
]
# Which answer field names the id a path parameter wants, and from which operation.
CREATES = {
    ("POST", "/v3/api_keys"): ("api_key_id", "key_id"),
    ("POST", "/v3/templates"): ("id", "template_id"),
    ("POST", "/v3/templates/{template_id}/versions"): ("id", "version_id"),
    ("POST", "/v3/user/webhooks"): ("id", "webhook_id"),
    ("POST", "/v3/user/webhooks/parse/settings"): ("hostname", "hostname"),
    ("POST", "/v3/asm/groups"): ("id", "group_id"),
    ("POST", "/v3/subusers"): ("username", "subuser_name"),
}


def body_examples(document: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {
        (method.upper(), path): operation["requestBody"]["content"]["application/json"]["example"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }


def test_every_example_body_is_accepted(server: ScaisendServer, dns: DnsServer) -> None:
    examples = body_examples(httpx.get(f"{server.base_url}/openapi.json", timeout=10).json())
    assert sorted(ORDER) == sorted(examples)
    token, operator = server.token("docs-examples"), server.command("token", "--operator")
    assert operator.returncode == 0, operator.stderr
    every_scope = {"name": "docs", "environment": "test", "scopes": list(ALL_SCOPES)}
    # A test key sends from the example's unverified domain, and nothing leaves the machine.
    test_key = admin(server, token, "POST", "/v3/api_keys", every_scope).json()["api_key"]
    batch = admin(server, token, "POST", "/v3/mail/batch").json()
    ids: dict[str, str] = {"batch_id": batch["batch_id"]}
    for method, path in ORDER:
        body = examples[(method, path)]
        if "batch_id" in body:
            body = {**body, "batch_id": ids["batch_id"]}
        credential = {"/v3/mail/send": test_key, "/v3/subusers": operator.stdout.split()[-1]}
        bearer = credential.get(path.split("/{")[0], token)
        answer = admin(server, bearer, method, path.format(**ids), body)
        assert 200 <= answer.status_code < 300, (method, path, answer.status_code, answer.text)
        if (method, path) in CREATES:
            field, parameter = CREATES[(method, path)]
            ids[parameter] = str(answer.json()[field])
        if path == "/api/admin/domains":  # published and verified: parse hostnames need it
            publish(dns, answer.json()["dns_records"])
            verify = f"/api/admin/domains/{answer.json()['id']}/verify"
            assert admin(server, token, "POST", verify).json()["verified"] is True


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"
)
def test_the_page_renders_every_operation_in_a_browser(server: ScaisendServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=10).json()
    operations = sum(len(item) for item in document["paths"].values())
    problems: list[str] = []
    hosts: set[str] = set()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"], timeout=30_000
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
            page.goto(f"{server.base_url}/docs", timeout=30_000)
            page.wait_for_selector(".opblock", timeout=30_000)
            assert page.locator(".opblock").count() == operations
            # An operation opened shows its example body (CSP violations would be console errors).
            page.locator("[id$='-V3ApiKeysCreateKey'] .opblock-summary").click()
            page.wait_for_selector("text=My API Key", timeout=10_000)
        finally:
            browser.close()
    assert problems == []
    assert hosts == {urlsplit(server.base_url).netloc}
