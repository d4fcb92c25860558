"""Operator control of a running server's queue, through `scaisend queue` and
`/api/admin/queue`: list, show, hold, retry, release and delete a deferred message."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import httpx

from tests.support.api import account_with_key, admin, send, set_up_account, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


def queue(server: ScaisendServer, *args: str) -> tuple[int, str]:
    done = server.command("queue", *args)
    return done.returncode, done.stdout + done.stderr


def queued(server: ScaisendServer) -> list[dict[str, object]]:
    code, out = queue(server, "list", "--json")
    assert code == 0, out
    return list(json.loads(out)["messages"])


def test_operators_steer_the_queue(
    make_server: Callable[..., ScaisendServer], dns_server: DnsServer, sink: SmtpSink
) -> None:
    # deferred mail stays deferred (no retry of its own under way while the test looks at
    # its state); `retry` and `release` still send it at once
    scaisend = make_server({"delivery": {"retry_schedule_seconds": [600]}})
    token, key = account_with_key(scaisend, dns_server)
    sink.reject["slow@example.com"] = "451 4.2.0 try later"
    sink.reject["gone@example.com"] = "451 4.2.0 try later"
    kept = send(scaisend, key, "slow@example.com")
    dropped = send(scaisend, key, "gone@example.com")
    wait_for_status(scaisend, key, kept, "deferred")
    wait_for_status(scaisend, key, dropped, "deferred")

    listed = {m["message_id"]: m for m in queued(scaisend)}
    assert set(listed) == {kept, dropped}
    slow = listed[kept]
    assert slow["state"] == "deferred"  # failed a try: not `scheduled`, which waits for send_at
    code, out = queue(scaisend, "list", "--state", "scheduled", "--json")
    assert code == 0 and json.loads(out) == {"messages": []}
    assert slow["recipients"][0]["last_reply"] == "451 4.2.0 try later"  # type: ignore[index]
    code, table = queue(scaisend, "list", "--domain", "example.com")
    assert code == 0 and "slow@example.com" in table
    assert re.search(r"slow@example.com  attempts=\d+  \(451 4.2.0 try later\)", table)

    queue_id = str(slow["queue_id"])
    assert queue(scaisend, "hold", queue_id)[0] == 0
    time.sleep(0.5)  # an attempt already under way when the hold came ends (refused) first
    del sink.reject["slow@example.com"]
    assert queue(scaisend, "retry", queue_id)[0] == 0
    time.sleep(1.5)
    assert [m.rcpt_tos for m in sink.snapshot()] == []  # held: not even a retry delivers it
    assert {m["state"] for m in queued(scaisend) if m["queue_id"] == queue_id} == {"held"}
    assert queue(scaisend, "release", queue_id)[0] == 0
    wait_for_status(scaisend, key, kept, "delivered")
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [["slow@example.com"]]

    other = next(str(m["queue_id"]) for m in queued(scaisend) if m["message_id"] == dropped)
    code, out = queue(scaisend, "delete", other)
    deadline = time.monotonic() + 10
    while "is being delivered" in out and time.monotonic() < deadline:  # a retry in flight:
        time.sleep(0.2)  # refused (hold it first, it says) until that attempt has ended
        code, out = queue(scaisend, "delete", other)
    assert code == 0 and other in out
    message = wait_for_status(scaisend, key, dropped, "dropped")
    assert "operator" in message["events"][-1]["data"]["reason"]
    assert queued(scaisend) == []
    code, out = queue(scaisend, "show", other)
    assert code == 1 and "no message" in out

    user = scaisend.command("token", "--account", "acme", "--role", "user").stdout.split()[-1]
    forbidden = httpx.get(
        f"{scaisend.base_url}/api/admin/queue", headers={"Authorization": f"Bearer {user}"}
    )
    assert forbidden.status_code == 403
    assert admin(scaisend, token, "GET", "/api/admin/queue").json() == {"messages": []}


def test_an_account_admin_steers_only_its_own_mail(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """Two accounts with deferred mail: each admin sees and steers its own; the other's queue
    id is a 404 to every action; the operator (`scaisend token --operator`) sees both."""
    token_a, key_a = account_with_key(scaisend, dns_server)
    token_b = scaisend.token("globex")
    set_up_account(scaisend, dns_server, token_b, "mail.globex.example")
    key_b = admin(
        scaisend,
        token_b,
        "POST",
        "/v3/api_keys",
        {"name": "k", "environment": "live", "scopes": ["mail.send", "messages.read"]},
    ).json()["api_key"]
    sink.reject["a@example.com"] = sink.reject["b@example.com"] = "451 4.2.0 try later"
    mine = send(scaisend, key_a, "a@example.com")
    theirs = send(scaisend, key_b, "b@example.com", sender="hello@mail.globex.example")
    wait_for_status(scaisend, key_a, mine, "deferred")
    wait_for_status(scaisend, key_b, theirs, "deferred")

    def listed(token: str) -> dict[str, str]:
        found = admin(scaisend, token, "GET", "/api/admin/queue").json()["messages"]
        return {m["message_id"]: m["queue_id"] for m in found}

    assert set(listed(token_a)) == {mine}
    assert set(listed(token_b)) == {theirs}
    operator = scaisend.command("token", "--operator").stdout.split()[-1]
    everything = listed(operator)
    assert set(everything) == {mine, theirs}
    other = everything[theirs]
    for method, path in (
        ("GET", f"/api/admin/queue/{other}"),
        ("POST", f"/api/admin/queue/{other}/hold"),
        ("POST", f"/api/admin/queue/{other}/release"),
        ("POST", f"/api/admin/queue/{other}/retry"),
        ("DELETE", f"/api/admin/queue/{other}"),
    ):
        refused = admin(scaisend, token_a, method, path)
        assert refused.status_code == 404, (method, path, refused.text)
        assert "no " in refused.json()["errors"][0]["message"]
    assert admin(scaisend, token_a, "POST", "/api/admin/queue/retry").json() == {"retried": 1}
    assert set(listed(operator)) == {mine, theirs}  # the other account's mail is untouched
    held = admin(scaisend, operator, "POST", f"/api/admin/queue/{other}/hold")
    assert held.status_code == 200 and held.json()["state"] == "held"
    assert admin(scaisend, token_a, "POST", f"/api/admin/queue/{other}/release").status_code == 404
    assert admin(scaisend, operator, "POST", f"/api/admin/queue/{other}/release").status_code == 200
    refused = admin(scaisend, operator, "GET", "/v3/api_keys")
    assert refused.status_code == 403 and "operator" in refused.json()["errors"][0]["message"]
