"""Operator control of a running server's queue, through `scaisend queue` and
`/api/admin/queue`: list, show, hold, retry, release and delete a deferred message."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.support.api import account_with_key, admin, send, wait_for_status
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
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
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
    assert slow["state"] == "deferred"
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
