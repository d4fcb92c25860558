"""`scaisend events tail` and `GET /v3/user/events` against a real server, with test keys and
the mailbox simulator: a tail sees its account's events as they are written (never another
account's), filters by type and recipient, prints JSON as the webhook does, starts with new
events only, ends quietly on Ctrl-C, and fails in one line for an unknown account (creating
none) and for a server that is down. The route answers only its account, and only a key
that may read every event."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
from typing import Any

from tests.support.api import admin, get, new_key, send, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer

BOUNCED = "bounce@example.com"
DELIVERED = "ada@example.com"


def start_tail(server: ScaisendServer, *args: str) -> subprocess.Popen[str]:
    """The command as ScaisendServer.command runs one, but left running."""
    command = ["events", "tail", *args, "--config", str(server.config)]
    return subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("SCAISEND__")},
    )


def finish(tail: subprocess.Popen[str], timeout: float = 45) -> tuple[int, list[str], str]:
    out, err = tail.communicate(timeout=timeout)
    return tail.returncode, out.splitlines(), err


def tail(server: ScaisendServer, *args: str) -> tuple[int, list[str], str]:
    return finish(start_tail(server, *args))


def first_line(process: subprocess.Popen[str], timeout: float = 30) -> str:
    """The first line the process prints, waited for at most `timeout` seconds."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        assert selector.select(timeout), "the tail printed nothing"
    return process.stdout.readline()


def test_events_tail_follows_one_account(scaisend: ScaisendServer, dns_server: DnsServer) -> None:
    acme, beta = scaisend.token("acme"), scaisend.token("beta")
    set_up_account(scaisend, dns_server, acme)
    set_up_account(scaisend, dns_server, beta, name="mail.beta.example")
    acme_key = new_key(scaisend, acme, ["mail.send"], env="test")
    beta_key = new_key(scaisend, beta, ["mail.send"], env="test")

    # While mail is sent: beta's first, so that a leak would fill acme's two lines.
    # --since: the command takes a second or two to start, and mail sent meanwhile counts.
    following = start_tail(
        scaisend, "--account", "acme", "--since", "30", "--count", "2", "--for", "30"
    )
    send(scaisend, beta_key, BOUNCED, sender="hello@mail.beta.example")
    bounced = send(scaisend, acme_key, BOUNCED)
    code, lines, err = finish(following)
    assert code == 0, err
    # in the order they committed: the two may commit either way round (tail_window.py)
    assert sorted(line.split()[2:5] for line in lines) == [
        ["bounce", BOUNCED, bounced],
        ["processed", BOUNCED, bounced],
    ]
    (bounce_line,) = [line for line in lines if line.split()[2] == "bounce"]
    assert bounce_line.endswith("simulator: the mailbox does not exist (bounce@)")

    both = send(scaisend, acme_key, DELIVERED, BOUNCED)
    code, lines, err = tail(
        scaisend, "--account", "acme", "--since", "120", "--event", "delivered",
        "--email", DELIVERED.upper(), "--json", "--count", "1", "--for", "30",
    )  # fmt: skip
    assert code == 0, err
    (delivered,) = [json.loads(line) for line in lines]
    assert (delivered["event"], delivered["email"]) == ("delivered", DELIVERED)
    assert delivered["message_id"] == both and delivered["order"] == "42"  # custom args
    assert isinstance(delivered["timestamp"], int) and delivered["event_id"]
    assert "account_id" not in delivered and "custom_args" not in delivered

    code, lines, err = tail(
        scaisend, "--account", "acme", "--since", "120", "--event", "bounce", "--event",
        "dropped", "--count", "2", "--for", "30",
    )  # fmt: skip
    assert code == 0, err
    assert [(line.split()[2], line.split()[4]) for line in lines] == [
        ("bounce", bounced),
        ("dropped", both),  # the first bounce put the address on the suppression list
    ]
    assert lines[1].endswith("Bounced Address")
    code, lines, err = tail(scaisend, "--account", "acme", "--for", "2")
    assert (code, lines, err) == (0, [], "")  # only new events: these are all past

    check_the_route(scaisend, acme, beta, acme_key, {bounced, both})
    check_failures(scaisend)


def check_the_route(
    server: ScaisendServer, acme: str, beta: str, sender_key: str, acme_messages: set[str]
) -> None:
    def messages(credential: str, **params: Any) -> set[str]:
        response = get(server, credential, "/v3/user/events", **params)
        assert response.status_code == 200, response.text
        return {e["message_id"] for e in response.json()["events"]}

    assert messages(acme) == acme_messages
    (beta_message,) = messages(beta)
    assert beta_message not in acme_messages
    reader = new_key(server, acme, ["messages.read"])
    assert messages(reader, event=["bounce", "dropped"], limit=1000) == acme_messages
    refused = get(server, sender_key, "/v3/user/events")
    assert refused.status_code == 403
    assert "messages.read" in refused.json()["errors"][0]["message"]
    bad = get(server, acme, "/v3/user/events", event="bounced")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "event"


def check_failures(server: ScaisendServer) -> None:
    following = start_tail(server, "--account", "acme", "--since", "120")
    # acme's first message: its processed or its bounce, whichever committed first
    assert first_line(following).split()[2] in ("processed", "bounce")
    following.send_signal(signal.SIGINT)
    code, _, err = finish(following)
    assert (code, err) == (0, "")  # Ctrl-C: quietly, no traceback

    code, lines, err = tail(server, "--account", "nobody", "--for", "1")
    assert code == 1 and lines == []
    assert (
        err
        == "scaisend: no account named nobody in the server's database (events tail creates none)\n"
    )
    operator = server.command("token", "--operator").stdout.split()[-1]
    assert admin(server, operator, "GET", "/v3/subusers?username=nobody").json() == []

    server.stop()
    code, lines, err = tail(server, "--account", "acme", "--for", "30")
    assert code == 1 and lines == []
    assert len(err.splitlines()) == 1 and "is not reachable" in err
