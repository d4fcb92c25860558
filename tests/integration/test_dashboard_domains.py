"""The dashboard's Domains page against a real server resolving through a loopback DNS
server: add a domain, see its records, verify before and after publishing them (a reason per
record), the deliverability check with good and bad records, two accounts, roles, bad input,
pagination; and, in chromium, add → records → copy → verify as a user clicks it."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.api import admin, publish
from tests.support.dashboard import add_user, browser_on, post_form, signed_in
from tests.support.dns_server import DnsServer, txt_value
from tests.support.server import ScaisendServer
from tests.support.servers import nameserver_of

SMTP_HOST = "mx.scaisend.test"  # the servers' [smtp] hostname (tests/support/server.py)
ID = re.compile(r"/ui/domains/([0-9a-zA-Z_-]+)$")
FINDING = re.compile(r'data-check="([^"]+)" data-status="(ok|warn|fail)"')
RECORD_RESULT = re.compile(r'data-testid="record-result"><span class="verdict">([^<]*)</span>')


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    server = DnsServer("127.0.0.1", 0)
    server.start()
    server.add(SMTP_HOST, "A", "127.0.0.1")  # the address we send from, forward-confirmed
    server.add("1.0.0.127.in-addr.arpa", "PTR", f"{SMTP_HOST}.")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer], dns: DnsServer) -> ScaisendServer:
    made = make_module_server(nameserver=nameserver_of(dns))
    made.token("acme"), made.token("globex")  # the accounts
    add_user(made, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    add_user(made, "--account", "acme", "--email", "dev@acme.example", "--role", "developer")
    add_user(made, "--account", "acme", "--email", "help@acme.example", "--role", "support")
    add_user(made, "--account", "globex", "--email", "bo@globex.example", "--role", "admin")
    return made


def domains_of(server: ScaisendServer, account: str) -> list[dict[str, Any]]:
    listed = admin(server, server.token(account), "GET", "/api/admin/domains")
    assert listed.status_code == 200, listed.text
    return list(listed.json())


def added(client: httpx.Client, name: str) -> str:
    """The new domain's id, from the page the form redirects to."""
    made = post_form(client, "/ui/domains", {"domain": name, "dmarc_policy": "none"})
    assert made.status_code == 303, made.text
    found = ID.search(made.headers["location"])
    assert found is not None, made.headers["location"]
    return found.group(1)


def results(page: str) -> list[str]:
    return [html.unescape(text) for text in RECORD_RESULT.findall(page)]


def findings(page: str) -> dict[str, str]:
    return dict(FINDING.findall(page))


def test_add_a_domain_see_its_records_and_verify_before_and_after_publishing(
    server: ScaisendServer, dns: DnsServer
) -> None:
    client = signed_in(server, "ada@acme.example")
    domain_id = added(client, "mail.acme.example")
    page = client.get(f"/ui/domains/{domain_id}")
    assert page.status_code == 200 and "mail.acme.example" in page.text
    records = admin(server, server.token("acme"), "GET", f"/api/admin/domains/{domain_id}")
    published = records.json()["dns_records"]
    for record in published:
        value = (
            f"{record['priority']} {record['value']}" if record["type"] == "MX" else record["value"]
        )
        assert f'data-copy="{html.escape(value)}"' in page.text, record
        assert f'data-copy="{record["host"]}"' in page.text
    assert results(page.text) == ["Not checked yet: publish it, then press Verify."] * 4

    before = post_form(client, f"/ui/domains/{domain_id}/verify", {})
    assert before.status_code == 200 and "Not verified yet" in before.text
    assert results(before.text)[0] == (
        "Missing: nothing of type TXT is published at scaisend1._domainkey.mail.acme.example "
        "yet. New records can take a while to appear."
    )
    dkim = published[0]
    dns.add(dkim["host"], "TXT", txt_value("v=DKIM1; k=rsa; p=NOTOURKEY"), ttl=0)
    different = post_form(client, f"/ui/domains/{domain_id}/verify", {})
    assert results(different.text)[0].startswith("Found but different: TXT at scaisend1.")
    assert '<code class="dns">v=DKIM1; k=rsa; p=NOTOURKEY</code>' in different.text

    dns.remove(dkim["host"])
    publish(dns, published)
    after = post_form(client, f"/ui/domains/{domain_id}/verify", {})
    assert after.status_code == 200 and "Every record is published" in after.text
    assert results(after.text) == ["Found: published as expected."] * 4
    assert 'data-testid="domain-state">Verified' in client.get(f"/ui/domains/{domain_id}").text
    assert [d["verified"] for d in domains_of(server, "acme") if d["id"] == domain_id] == [True]


def test_the_deliverability_check_says_what_to_fix(server: ScaisendServer, dns: DnsServer) -> None:
    client = signed_in(server, "ada@acme.example")
    good_id = added(client, "good.acme.example")
    good = admin(server, server.token("acme"), "GET", f"/api/admin/domains/{good_id}").json()
    publish(dns, good["dns_records"])
    dns.add("good.acme.example", "TXT", txt_value(f"v=spf1 a:{SMTP_HOST} -all"))
    dns.add("good.acme.example", "MX", "10 mail.good.acme.example.")
    dns.add("_mta-sts.good.acme.example", "TXT", txt_value("v=STSv1; id=20250101"))
    dns.add(
        "_smtp._tls.good.acme.example", "TXT", txt_value("v=TLSRPTv1; rua=mailto:t@acme.example")
    )
    checked = client.get(f"/ui/domains/{good_id}/check")
    assert checked.status_code == 200
    assert findings(checked.text) == {
        "SPF (bounces.good.acme.example)": "ok",
        "SPF (good.acme.example)": "ok",
        "DKIM": "ok",
        "DMARC": "warn",  # p=none, as the domain was added: it says to tighten it
        "MX": "ok",
        "PTR": "ok",
        "MTA-STS": "ok",
        "TLS-RPT": "ok",
        "List-Unsubscribe": "warn",  # no unsubscribe group, an http:// one-click link
    }
    assert "127.0.0.1 → mx.scaisend.test, confirmed forward" in checked.text
    assert "No outbound source address is configured" in checked.text

    bad_id = added(client, "bad.acme.example")
    dns.add("bad.acme.example", "TXT", txt_value("v=spf1 -all"))
    dns.add("bad.acme.example", "TXT", txt_value(f"v=spf1 a:{SMTP_HOST} ~all"))
    bad = client.get(f"/ui/domains/{bad_id}/check").text
    found = findings(bad)
    assert found["SPF (bad.acme.example)"] == "fail"
    assert found["DMARC"] == "fail" and found["DKIM"] == "fail" and found["MX"] == "fail"
    assert "2 SPF records at bad.acme.example" in html.unescape(bad)
    assert "No DMARC record at _dmarc.bad.acme.example." in bad
    assert "Something to fix" in bad


def test_another_accounts_domains_are_not_found(server: ScaisendServer) -> None:
    acme = signed_in(server, "ada@acme.example")
    domain_id = added(acme, "own.acme.example")
    globex = signed_in(server, "bo@globex.example")
    listed = globex.get("/ui/domains")
    assert listed.status_code == 200 and "acme.example" not in listed.text
    for path in (f"/ui/domains/{domain_id}", f"/ui/domains/{domain_id}/check"):
        answer = globex.get(path)
        assert answer.status_code == 404 and "own.acme.example" not in answer.text, path
    refused = post_form(globex, f"/ui/domains/{domain_id}/verify", {})
    assert refused.status_code == 404 and "own.acme.example" not in refused.text
    assert domains_of(server, "globex") == []


def test_a_developer_or_support_member_sees_no_domains_page(server: ScaisendServer) -> None:
    before = domains_of(server, "acme")
    for email in ("dev@acme.example", "help@acme.example"):
        client = signed_in(server, email)
        assert 'href="/ui/domains"' not in client.get("/ui/").text
        assert client.get("/ui/domains").status_code == 403
        made = post_form(client, "/ui/domains", {"domain": "sneaky.acme.example"})
        assert made.status_code == 403, email
    assert domains_of(server, "acme") == before


def test_bad_input_shows_the_apis_message_beside_the_field(server: ScaisendServer) -> None:
    client = signed_in(server, "bo@globex.example")
    bad = post_form(client, "/ui/domains", {"domain": "not a domain!", "dmarc_policy": "none"})
    assert bad.status_code == 400
    assert (
        '<p class="field-error" id="e-domain" data-field-error="domain">invalid domain name</p>'
        in bad.text
    )
    assert 'value="not a domain!"' in bad.text  # what was typed is kept
    policy = post_form(
        client, "/ui/domains", {"domain": "ok.globex.example", "dmarc_policy": "often"}
    )
    assert policy.status_code == 400 and 'data-field-error="dmarc_policy"' in policy.text
    email = {"domain": "ok.globex.example", "dmarc_rua_email": "nobody"}
    assert (
        'data-field-error="dmarc_rua_email">invalid email address'
        in post_form(client, "/ui/domains", email).text
    )
    assert domains_of(server, "globex") == []
    added(client, "twice.globex.example")
    again = post_form(client, "/ui/domains", {"domain": "twice.globex.example"})
    assert again.status_code == 400
    assert 'data-field-error="domain">domain twice.globex.example already exists' in again.text


def test_the_list_is_paginated(server: ScaisendServer) -> None:
    token = server.token("initech")
    add_user(server, "--account", "initech", "--email", "pat@initech.example", "--role", "admin")
    for name in ("a.initech.example", "b.initech.example", "c.initech.example"):
        made = admin(server, token, "POST", "/api/admin/domains", {"domain": name})
        assert made.status_code == 201, made.text
    client = signed_in(server, "pat@initech.example")
    first = client.get("/ui/domains", params={"per_page": 2}).text
    assert "a.initech.example" in first and "b.initech.example" in first
    assert "c.initech.example" not in first and 'rel="next" href="?page=2&amp;per_page=2"' in first
    second = client.get("/ui/domains", params={"page": 2, "per_page": 2}).text
    assert "c.initech.example" in second and "a.initech.example" not in second
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_an_admin_adds_a_domain_copies_a_record_and_verifies_it(
    server: ScaisendServer, dns: DnsServer
) -> None:
    with browser_on(server) as browser:
        page = browser.page
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        browser.sign_in("ada@acme.example")
        page.get_by_role("link", name="Domains").click()
        page.wait_for_url(f"{server.base_url}/ui/domains")
        assert page.get_by_role("heading", level=1).inner_text() == "Domains"
        page.get_by_label("Domain", exact=True).fill("not a domain")
        page.get_by_role("button", name="Add domain").click()
        assert page.locator('[data-field-error="domain"]').inner_text() == "invalid domain name"
        browser.problems.clear()  # chromium logs the form's 400 as an error
        page.get_by_label("Domain", exact=True).fill("click.acme.example")
        page.get_by_role("button", name="Add domain").click()
        page.wait_for_url(re.compile(r".*/ui/domains/[^/]+$"))
        assert page.locator(".record").count() == 4
        browser.screenshots("domains-records")
        copy = page.locator(".record").first.locator("button.copy").last
        value = copy.get_attribute("data-copy")
        assert value is not None and value.startswith("v=DKIM1; k=rsa; p=")
        copy.click()
        page.wait_for_function("b => b.textContent !== 'Copy'", arg=copy.element_handle())
        assert copy.inner_text() == "Copied"
        assert page.evaluate("navigator.clipboard.readText()") == value
        domain_id = page.url.rsplit("/", 1)[1]
        made = admin(server, server.token("acme"), "GET", f"/api/admin/domains/{domain_id}").json()
        publish(dns, made["dns_records"])
        page.get_by_role("button", name="Verify").click()
        page.wait_for_selector('[data-testid="verify-result"]')
        assert page.get_by_test_id("domain-state").inner_text() == "Verified"
        page.get_by_role("button", name="Run the deliverability check").click()
        page.wait_for_selector(".findings")
        assert page.locator('[data-check="DKIM"]').get_attribute("data-status") == "ok"
        browser.screenshots("domains-check")
        page.get_by_role("link", name="← All domains").click()
        page.wait_for_url(f"{server.base_url}/ui/domains")
        browser.screenshots("domains-list")
