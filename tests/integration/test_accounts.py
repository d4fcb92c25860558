"""The operator's accounts API against a real server, with two accounts: `/v3/subusers`
create, list, disable, enable and delete. A disabled account's keys get 535 over SMTP and
403 over HTTP, its queued mail is held (not lost) and goes out once it is enabled again,
while the other account sends as usual."""

from __future__ import annotations

import smtplib
import ssl
import time

import pytest

from tests.support.api import (
    account_with_key,
    admin,
    publish,
    send,
    set_up_account,
    wait_for_status,
)
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


def smtp_login(server: ScaisendServer, key: str) -> None:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as client:
        client.starttls(context=context)
        client.login("apikey", key)


def operator(server: ScaisendServer) -> str:
    done = server.command("token", "--operator")
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def second_account(server: ScaisendServer, dns_server: DnsServer) -> str:
    token = server.token("globex")
    set_up_account(server, dns_server, token, "mail.globex.example")
    body = {"name": "k", "environment": "live", "scopes": ["mail.send", "messages.read"]}
    return str(admin(server, token, "POST", "/v3/api_keys", body).json()["api_key"])


def queue_states(server: ScaisendServer, token: str) -> dict[str, str]:
    found = admin(server, token, "GET", "/api/admin/queue").json()["messages"]
    return {m["message_id"]: m["state"] for m in found}


def test_a_disabled_account_is_refused_and_its_mail_waits_until_it_is_enabled(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    other_key = second_account(scaisend, dns_server)
    op = operator(scaisend)
    sink.reject["later@example.com"] = "451 4.2.0 try later"
    waiting = send(scaisend, key, "later@example.com")
    wait_for_status(scaisend, key, waiting, "deferred")

    assert admin(scaisend, op, "PATCH", "/v3/subusers/acme", {"disabled": True}).status_code == 204
    refused = scaisend.http.get(
        f"{scaisend.base_url}/v3/messages/{waiting}", headers={"Authorization": f"Bearer {key}"}
    )
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == "access forbidden: the account is disabled"
    with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
        smtp_login(scaisend, key)
    assert failed.value.smtp_code == 535
    smtp_login(scaisend, other_key)  # the other account is untouched
    theirs = send(scaisend, other_key, "ok@example.com", sender="hello@mail.globex.example")
    wait_for_status(scaisend, other_key, theirs, "delivered")

    del sink.reject["later@example.com"]
    assert admin(scaisend, op, "POST", "/api/admin/queue/retry").status_code == 200
    time.sleep(1.5)
    assert ["later@example.com"] not in [m.rcpt_tos for m in sink.snapshot()]
    assert queue_states(scaisend, op) == {waiting: "held"}

    assert admin(scaisend, op, "PATCH", "/v3/subusers/acme", {"disabled": False}).status_code == 204
    wait_for_status(scaisend, key, waiting, "delivered")
    assert ["later@example.com"] in [m.rcpt_tos for m in sink.snapshot()]


def test_the_operator_creates_lists_and_deletes_accounts(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    op = operator(scaisend)
    body = {"username": "initech", "email": "ops@initech.example", "ips": []}
    short = admin(scaisend, op, "POST", "/v3/subusers", {**body, "password": "p"})
    assert short.status_code == 400 and short.json()["errors"][0]["field"] == "password"
    created = admin(scaisend, op, "POST", "/v3/subusers", {**body, "password": "p" * 12})
    assert created.status_code == 201, created.text
    assert created.json()["username"] == "initech"
    signed_in = scaisend.http.post(
        f"{scaisend.base_url}/api/session",
        json={"email": "ops@initech.example", "password": "p" * 12},
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["user"] == {
        "email": "ops@initech.example",
        "role": "admin",
        "account": "initech",
    }
    again = {**body, "username": "initech2", "password": "q" * 12}  # the same email
    assert admin(scaisend, op, "POST", "/v3/subusers", again).status_code == 409
    bad = admin(scaisend, op, "POST", "/v3/subusers", {**body, "username": "", "email": "x"})
    assert bad.status_code == 400
    names = [a["username"] for a in admin(scaisend, op, "GET", "/v3/subusers").json()]
    assert "initech" in names and "initech2" not in names

    _, key = account_with_key(scaisend, dns_server)
    sink.reject["held@example.com"] = "451 4.2.0 try later"
    queued = send(scaisend, key, "held@example.com")
    wait_for_status(scaisend, key, queued, "deferred")
    other_key = second_account(scaisend, dns_server)
    assert admin(scaisend, op, "DELETE", "/v3/subusers/acme").status_code == 204
    assert admin(scaisend, op, "GET", "/v3/subusers/acme").status_code == 404
    assert queue_states(scaisend, op) == {}  # its queued mail went with it
    gone = scaisend.http.get(
        f"{scaisend.base_url}/v3/messages/{queued}", headers={"Authorization": f"Bearer {key}"}
    )
    assert gone.status_code == 401  # its keys are gone too
    mine = send(scaisend, other_key, "ok@example.com", sender="hello@mail.globex.example")
    wait_for_status(scaisend, other_key, mine, "delivered")


def test_a_domain_verified_by_one_account_cannot_be_verified_by_another(
    scaisend: ScaisendServer, dns_server: DnsServer
) -> None:
    # acme verifies mail.example.com; its records are not cached, so the DNS may change
    set_up_account(scaisend, dns_server, scaisend.token("acme"), ttl=0)
    other = scaisend.token("globex")
    for name in ("mail.example.com", "eu.mail.example.com"):
        created = admin(scaisend, other, "POST", "/api/admin/domains", {"domain": name})
        assert created.status_code == 201, created.text
        domain = created.json()
        for record in domain["dns_records"]:  # the DNS now says globex's records alone
            dns_server.remove(record["host"])
        publish(dns_server, domain["dns_records"])
        refused = admin(scaisend, other, "POST", f"/api/admin/domains/{domain['id']}/verify")
        assert refused.status_code == 409, refused.text
        assert refused.json()["errors"][0]["message"] == (
            f"domain {name} is verified by another account: a domain belongs to one account"
        )
        shown = admin(scaisend, other, "GET", f"/api/admin/domains/{domain['id']}").json()
        assert shown["verified"] is False
    set_up_account(scaisend, dns_server, other, "mail.globex.example")  # its own domain is fine
