"""Inbound Parse settings over HTTP (`/v3/user/webhooks/parse/settings`), as SendGrid's
clients call them: a hostname under the account's verified domain, one account per
hostname, the webhook guard on the URL, spam_check refused without a scanner, scopes, and
two accounts that never see each other's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.api import admin, new_key, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import nameserver_of, recipients_dns

PATH = "/v3/user/webhooks/parse/settings"
URL = "https://hooks.example.com/parse"


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    server = recipients_dns()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer], dns: DnsServer) -> ScaisendServer:
    made = make_module_server(
        {"webhooks": {"allow_private_targets": False}}, nameserver=nameserver_of(dns)
    )
    set_up_account(made, dns, made.token("acme"), name="acme.example")
    set_up_account(made, dns, made.token("globex"), name="globex.example")
    return made


def call(server: ScaisendServer, who: str, method: str, path: str, body: Any = None) -> Any:
    return admin(server, server.token(who), method, path, body)


def error_of(answer: Any) -> tuple[str | None, str]:
    (error,) = answer.json()["errors"]
    return error.get("field"), error["message"]


def test_a_setting_is_made_read_changed_and_deleted(server: ScaisendServer) -> None:
    body = {"hostname": "Parse.ACME.example", "url": URL, "send_raw": True}
    made = call(server, "acme", "POST", PATH, body)
    assert made.status_code == 201, made.text
    setting = {"url": URL, "hostname": "parse.acme.example", "spam_check": False, "send_raw": True}
    assert made.json() == setting
    assert call(server, "acme", "GET", PATH).json() == {"result": [setting]}
    one = call(server, "acme", "GET", f"{PATH}/parse.acme.example")
    assert one.status_code == 200 and one.json() == setting
    changed = call(
        server, "acme", "PATCH", f"{PATH}/parse.acme.example", {"url": URL + "2", "send_raw": False}
    )
    assert changed.json() == {**setting, "url": URL + "2", "send_raw": False}
    assert call(server, "acme", "DELETE", f"{PATH}/parse.acme.example").status_code == 204
    assert call(server, "acme", "GET", f"{PATH}/parse.acme.example").status_code == 404
    assert call(server, "acme", "GET", PATH).json() == {"result": []}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"hostname": "in.elsewhere.example", "url": URL}, "hostname", "not under a verified"),
        ({"hostname": "not a host", "url": URL}, "hostname", "host name"),
        ({"hostname": "in.acme.example", "url": "http://hooks.example.com/"}, "url", "https"),
        ({"hostname": "in.acme.example", "url": "https://127.0.0.1/p"}, "url", "not allowed"),
        ({"hostname": "in.acme.example", "url": URL, "spam_check": True}, "spam_check", "spamd"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    server: ScaisendServer, body: dict[str, Any], field: str, words: str
) -> None:
    refused = call(server, "acme", "POST", PATH, body)
    assert refused.status_code == 400, refused.text
    got_field, message = error_of(refused)
    assert got_field == field and words in message
    assert call(server, "acme", "GET", PATH).json() == {"result": []}  # nothing saved


def test_a_hostname_belongs_to_one_account(server: ScaisendServer) -> None:
    made = call(server, "acme", "POST", PATH, {"hostname": "mx.acme.example", "url": URL})
    assert made.status_code == 201, made.text
    again = call(server, "acme", "POST", PATH, {"hostname": "mx.acme.example", "url": URL})
    assert again.status_code == 409
    # globex has not verified acme.example: the domain check refuses before anything else
    theirs = call(server, "globex", "POST", PATH, {"hostname": "mx.acme.example", "url": URL})
    assert theirs.status_code == 400 and error_of(theirs)[0] == "hostname"
    assert call(server, "globex", "GET", PATH).json() == {"result": []}
    for method, body in (("GET", None), ("PATCH", {"url": URL + "x"}), ("DELETE", None)):
        answer = call(server, "globex", method, f"{PATH}/mx.acme.example", body)
        assert answer.status_code == 404, (method, answer.text)
    assert call(server, "acme", "GET", f"{PATH}/mx.acme.example").json()["url"] == URL
    assert call(server, "acme", "DELETE", f"{PATH}/mx.acme.example").status_code == 204


def test_api_keys_need_the_parse_scopes(server: ScaisendServer) -> None:
    token = server.token("acme")
    reader = new_key(server, token, ["user.webhooks.parse.settings.read"])
    sender = new_key(server, token, ["mail.send"])
    headers = {"Authorization": f"Bearer {reader}"}
    listed = server.http.get(f"{server.base_url}{PATH}", headers=headers)
    assert listed.status_code == 200 and listed.json() == {"result": []}
    made = server.http.post(
        f"{server.base_url}{PATH}", headers=headers, json={"hostname": "a.acme.example", "url": URL}
    )
    assert made.status_code == 403
    refused = server.http.get(
        f"{server.base_url}{PATH}", headers={"Authorization": f"Bearer {sender}"}
    )
    assert refused.status_code == 403
