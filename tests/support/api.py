"""Helpers the integration tests share: admin calls with a JWT, an account with a verified
sender domain (its records published on the test DNS server), keys, sends, and waiting for
a message to reach a status, or its events to arrive, in the message log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import dns.nameserver
import dns.resolver
import httpx

from tests.support.dns_server import DnsServer, txt_value
from tests.support.server import ScaisendServer


def dkim_dns(dns_server: DnsServer) -> Any:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(*dns_server.address)]

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(next(iter(answer)).strings)

    return lookup


def publish(dns_server: DnsServer, records: list[dict[str, Any]], ttl: int = 60) -> None:
    for record in records:
        if record["type"] == "MX":
            value = f"{record['priority']} {record['value']}."
            dns_server.add(record["host"], "MX", value, ttl=ttl)
        else:
            dns_server.add(record["host"], "TXT", txt_value(record["value"]), ttl=ttl)


def admin(
    server: ScaisendServer, token: str, method: str, path: str, body: Any = None
) -> httpx.Response:
    return server.http.request(
        method,
        f"{server.base_url}{path}",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )


def get(server: ScaisendServer, key: str, path: str, **params: Any) -> httpx.Response:
    return server.http.get(
        f"{server.base_url}{path}",
        params=params,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )


def new_key(server: ScaisendServer, token: str, scopes: list[str], env: str = "live") -> str:
    body = {"name": "k", "environment": env, "scopes": scopes}
    response = admin(server, token, "POST", "/v3/api_keys", body)
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def set_up_account(
    server: ScaisendServer,
    dns_server: DnsServer,
    token: str,
    name: str = "mail.example.com",
    ttl: int = 60,
) -> dict[str, Any]:
    """The account behind `token` with the domain `name` created, published (records kept
    `ttl` seconds by resolvers) and verified."""
    created = admin(
        server,
        token,
        "POST",
        "/api/admin/domains",
        {
            "domain": name,
            "dmarc_policy": "quarantine",
            "dmarc_rua_email": "dmarc@example.com",
        },
    )
    assert created.status_code == 201, created.text
    domain = created.json()
    assert domain["verified"] is False
    before = admin(server, token, "POST", f"/api/admin/domains/{domain['id']}/verify").json()
    assert before["verified"] is False
    assert all(r["valid"] is False for r in before["dns_records"])
    publish(dns_server, domain["dns_records"], ttl)
    after = admin(server, token, "POST", f"/api/admin/domains/{domain['id']}/verify")
    assert after.status_code == 200 and after.json()["verified"] is True, after.text
    return dict(domain)


def wait_for_status(
    server: ScaisendServer, key: str, message_id: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = server.http.get(
            f"{server.base_url}/v3/messages/{message_id}",
            headers={"Authorization": f"Bearer {key}"},
        )
        body = response.json()
        if response.status_code == 200 and body["status"] == status:
            return body
        time.sleep(0.1)
    raise AssertionError(f"message never reached {status}: {body}")


def wait_for_listed(server: ScaisendServer, key: str) -> str:
    """The id of the newest message in the log, once there is one: the log is written in
    batches, a moment after the SMTP 250."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        response = server.http.get(
            f"{server.base_url}/v3/messages",
            headers={"Authorization": f"Bearer {key}"},
            params={"page_size": 1},
        )
        assert response.status_code == 200, response.text
        if messages := response.json()["messages"]:
            return str(messages[0]["id"])
        time.sleep(0.1)
    raise AssertionError("no message reached the message log")


def account_with_key(server: ScaisendServer, dns_server: DnsServer) -> tuple[str, str]:
    token = server.token()
    set_up_account(server, dns_server, token)
    key = admin(
        server,
        token,
        "POST",
        "/v3/api_keys",
        {"name": "k", "environment": "live", "scopes": ["mail.send"]},
    ).json()["api_key"]
    return token, str(key)


def send(
    server: ScaisendServer, key: str, *recipients: str, sender: str = "hello@mail.example.com"
) -> str:
    response = server.http.post(
        f"{server.base_url}/v3/mail/send",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "personalizations": [{"to": [{"email": r} for r in recipients]}],
            "from": {"email": sender},
            "subject": "Outcome",
            "content": [{"type": "text/plain", "value": "Hello"}],
            "custom_args": {"order": "42"},
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def post_send(server: ScaisendServer, key: str, body: dict[str, Any]) -> httpx.Response:
    return server.http.post(
        f"{server.base_url}/v3/mail/send",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )


def send_categorized(server: ScaisendServer, key: str, to: str, subject: str, category: str) -> str:
    """A plain mail to `to` in one category; its message id."""
    response = post_send(
        server,
        key,
        {
            "personalizations": [{"to": [{"email": to}]}],
            "from": {"email": "hello@mail.example.com"},
            "subject": subject,
            "categories": [category],
            "content": [{"type": "text/plain", "value": "Hello"}],
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def events_until(
    server: ScaisendServer, token: str, message_id: str, done: Callable[[list[Any]], bool]
) -> list[dict[str, Any]]:
    """The message's events once `done(events)` holds; AssertionError after 20 s."""
    deadline = time.monotonic() + 20
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = server.http.get(
            f"{server.base_url}/v3/messages/{message_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        events = list(response.json().get("events") or []) if response.status_code == 200 else []
        if done(events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"events never arrived: {events}")


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == kind]
