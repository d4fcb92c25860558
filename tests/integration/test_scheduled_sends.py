"""Scheduled sends against a real server: `send_at` delays delivery to the sink (also across
a SIGKILL and restart), batches are created and validated, a cancelled batch's mail is
dropped and a paused batch's mail is held until the pause is lifted, as SendGrid's API."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.support.api import admin, set_up_account, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

SCOPES = [
    "mail.send",
    "mail.batch.create",
    "mail.batch.read",
    "user.scheduled_sends.create",
    "user.scheduled_sends.read",
    "user.scheduled_sends.update",
    "user.scheduled_sends.delete",
]


def set_up(server: ScaisendServer, dns_server: DnsServer, scopes: list[str] = SCOPES) -> str:
    token = server.token()
    set_up_account(server, dns_server, token)
    body = {"name": "k", "environment": "live", "scopes": scopes}
    return str(admin(server, token, "POST", "/v3/api_keys", body).json()["api_key"])


def call(
    server: ScaisendServer, key: str, method: str, path: str, body: Any = None
) -> httpx.Response:
    return admin(server, key, method, path, body)


def send(server: ScaisendServer, key: str, *to: str, **fields: Any) -> httpx.Response:
    personalizations = fields.pop("personalizations", [{"to": [{"email": r}]} for r in to])
    body = {
        "personalizations": personalizations,
        "from": {"email": "hello@mail.example.com"},
        "subject": "Later",
        "content": [{"type": "text/plain", "value": "Hello"}],
        **fields,
    }
    return call(server, key, "POST", "/v3/mail/send", body)


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def queued(server: ScaisendServer, *options: str) -> dict[str, dict[str, Any]]:
    done = server.command("queue", "list", "--json", *options)
    assert done.returncode == 0, done.stderr
    return {m["message_id"]: m for m in json.loads(done.stdout)["messages"]}


def event_times(server: ScaisendServer, key: str, message_id: str, status: str) -> dict[str, int]:
    """Once the message log shows `status`: recipient → when its event of that kind came."""
    message = wait_for_status(server, key, message_id, status)
    return {e["email"]: e["timestamp"] for e in message["events"] if e["event_type"] == status}


def received(sink: SmtpSink) -> set[str]:
    return {rcpt for message in sink.snapshot() for rcpt in message.rcpt_tos}


def received_before(sink: SmtpSink, moment: float) -> set[str]:
    """Every recipient the sink had received at looks taken surely before `moment` (wall
    clock): a look counts only when the clock, read after it, is still before `moment`, so a
    test thread a loaded machine wakes late cannot take a later state for an earlier one.
    Its twin on a test clock: tests/unit/mta/scheduler/test_scheduled_delivery.py."""
    seen: set[str] = set()
    while True:
        looked = received(sink)
        if time.time() >= moment:
            return seen
        seen |= looked
        time.sleep(0.05)


def test_send_at_a_few_seconds_ahead_is_delivered_at_that_time(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    key = set_up(scaisend, dns_server)
    at = int(time.time()) + 6  # room for a loaded machine to reach the checks
    message_id = accepted(
        send(
            scaisend,
            key,
            send_at=at,
            personalizations=[
                {"to": [{"email": "early@example.com"}]},
                {"to": [{"email": "later@example.com"}], "send_at": at + 2},  # wins
                {"to": [{"email": "now@example.com"}], "send_at": at - 3600},  # past: at once
            ],
        )
    )
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [["now@example.com"]]
    listed = queued(scaisend)[message_id]
    assert listed["state"] == "scheduled" and listed["send_at"] in (at, at + 2)
    assert listed["due_at"] in (at, at + 2)
    # Half a second before its time: not sent; then sent. A delivery slowed by a loaded
    # machine may arrive after the next one, so arrivals are checked by recipient.
    assert received_before(sink, at - 0.5) <= {"now@example.com"}
    wait_until(lambda: "early@example.com" in received(sink), "the delivery at send_at")
    assert "later@example.com" not in received_before(sink, at + 1.5)  # its own, later time
    assert sorted(m.rcpt_tos[0] for m in sink.wait_for(3)) == [
        "early@example.com",
        "later@example.com",
        "now@example.com",
    ]
    delivered = event_times(scaisend, key, message_id, "delivered")
    assert delivered["early@example.com"] >= at
    assert delivered["later@example.com"] >= at + 2


def test_a_scheduled_send_survives_a_kill_and_is_delivered_after_restart(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    key = set_up(scaisend, dns_server)
    at = int(time.time()) + 30
    message_id = accepted(send(scaisend, key, "ada@example.com", send_at=at))
    scaisend.kill()
    scaisend.start()
    listed = queued(scaisend)[message_id]
    assert (listed["state"], listed["send_at"], listed["due_at"]) == ("scheduled", at, at)
    assert queued(scaisend, "--state", "scheduled") == {message_id: listed}
    assert queued(scaisend, "--state", "deferred") == {}  # never tried: nothing failed
    assert scaisend.command("queue", "retry", "--all").returncode == 0  # keeps its time
    while time.time() < at - 1:
        time.sleep(0.2)
    assert sink.snapshot() == []
    assert [m.rcpt_tos for m in sink.wait_for(1, timeout=30)] == [["ada@example.com"]]
    assert event_times(scaisend, key, message_id, "delivered")["ada@example.com"] >= at


def test_a_cancelled_batch_is_dropped_and_nothing_is_sent(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    key = set_up(scaisend, dns_server)
    created = call(scaisend, key, "POST", "/v3/mail/batch")
    assert created.status_code == 201, created.text
    batch_id = created.json()["batch_id"]
    assert call(scaisend, key, "GET", f"/v3/mail/batch/{batch_id}").json() == {"batch_id": batch_id}
    at = int(time.time()) + 3
    before = [
        accepted(send(scaisend, key, f"r{i}@example.com", send_at=at, batch_id=batch_id))
        for i in range(2)
    ]
    cancel = {"batch_id": batch_id, "status": "cancel"}
    posted = call(scaisend, key, "POST", "/v3/user/scheduled_sends", cancel)
    assert (posted.status_code, posted.json()) == (201, cancel)
    assert call(scaisend, key, "GET", "/v3/user/scheduled_sends").json() == [cancel]
    after = accepted(send(scaisend, key, "late@example.com", batch_id=batch_id))
    for message_id in [*before, after]:
        message = wait_for_status(scaisend, key, message_id, "dropped")
        dropped = [e for e in message["events"] if e["event_type"] == "dropped"]
        assert batch_id in dropped[0]["data"]["reason"]
        if message_id in before:  # dropped when due, not at the cancel
            assert dropped[0]["timestamp"] >= at
    time.sleep(1.0)
    assert sink.snapshot() == [] and queued(scaisend) == {}


def test_a_paused_batch_is_held_then_delivered_once_resumed(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    key = set_up(scaisend, dns_server)
    batch_id = call(scaisend, key, "POST", "/v3/mail/batch").json()["batch_id"]
    pause = {"batch_id": batch_id, "status": "pause"}
    assert call(scaisend, key, "POST", "/v3/user/scheduled_sends", pause).status_code == 201
    again = call(scaisend, key, "POST", "/v3/user/scheduled_sends", pause)
    assert again.status_code == 400  # already paused: PATCH or DELETE change it
    message_id = accepted(send(scaisend, key, "ada@example.com", batch_id=batch_id))
    time.sleep(1.5)
    assert sink.snapshot() == []
    listed = queued(scaisend)[message_id]
    assert (listed["state"], listed["batch_id"], listed["held_by_batch"]) == (
        "held",
        batch_id,
        True,
    )
    table = scaisend.command("queue", "list").stdout
    assert f"batch={batch_id} (paused)" in table
    refused = scaisend.command("queue", "release", listed["queue_id"])
    assert refused.returncode == 1 and "paused batch" in refused.stderr
    path = f"/v3/user/scheduled_sends/{batch_id}"
    assert call(scaisend, key, "GET", path).json() == [pause]
    assert call(scaisend, key, "PATCH", path, {"status": "pause"}).status_code == 204
    time.sleep(0.5)
    assert sink.snapshot() == []
    assert call(scaisend, key, "DELETE", path).status_code == 204
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [["ada@example.com"]]
    wait_for_status(scaisend, key, message_id, "delivered")
    assert call(scaisend, key, "GET", path).status_code == 404
    assert call(scaisend, key, "GET", "/v3/user/scheduled_sends").json() == []


def test_send_at_and_batch_ids_are_checked(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    key = set_up(scaisend, dns_server)
    too_late = int(time.time()) + 72 * 3600 + 60
    refused = send(scaisend, key, "a@example.com", send_at=too_late)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == (
        "Scheduling more than 72 hours in advance is forbidden."
    )
    assert refused.json()["errors"][0]["field"] == "send_at"
    inner = send(
        scaisend,
        key,
        personalizations=[
            {"to": [{"email": "a@example.com"}]},
            {"to": [{"email": "b@example.com"}], "send_at": too_late},
        ],
    )
    assert inner.status_code == 400
    assert inner.json()["errors"][0]["field"] == "personalizations.1.send_at"
    unknown = send(scaisend, key, "a@example.com", batch_id="no-such-batch")
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "batch_id"
    invalid = call(scaisend, key, "GET", "/v3/mail/batch/no-such-batch")
    assert invalid.status_code == 400
    assert invalid.json()["errors"][0]["message"] == "invalid batch id"

    batch_id = call(scaisend, key, "POST", "/v3/mail/batch").json()["batch_id"]
    other = scaisend.token("someone-else")  # another tenant sees none of it
    assert call(scaisend, other, "GET", f"/v3/mail/batch/{batch_id}").status_code == 400
    body = {"batch_id": batch_id, "status": "cancel"}
    assert call(scaisend, other, "POST", "/v3/user/scheduled_sends", body).status_code == 400
    bad = call(scaisend, key, "POST", "/v3/user/scheduled_sends", {**body, "status": "stop"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "status"

    token = scaisend.token()
    send_only = admin(
        scaisend,
        token,
        "POST",
        "/v3/api_keys",
        {"name": "s", "environment": "live", "scopes": ["mail.send"]},
    ).json()["api_key"]
    assert call(scaisend, send_only, "POST", "/v3/mail/batch").status_code == 403
    assert call(scaisend, send_only, "GET", "/v3/user/scheduled_sends").status_code == 403
    time.sleep(0.5)
    assert sink.snapshot() == []
