"""A real Postfix bounces our mail: ScaiSend delivers to a private Postfix on loopback, which
accepts, finds no such user and sends its DSN to our VERP return path, routed to our MX. The
bounce reaches the message log, the bounces suppression list and a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.postfix import PostfixInstance, postfix_unavailable
from tests.support.server import ScaisendServer, free_port
from tests.support.servers import ServerFactory
from tests.support.webhook_receiver import WebhookReceiver

PEER_DOMAIN = "example.test"
GONE = f"no-such-user-4711@{PEER_DOMAIN}"
RETURN_PATH_HOST = "bounces.mail.example.com"  # set_up_account's domain, VERP host


@pytest.fixture
def bouncing_peer(
    tmp_path: Path, make_server: ServerFactory
) -> Iterator[tuple[ScaisendServer, PostfixInstance]]:
    reason = postfix_unavailable()
    if reason:
        pytest.skip(reason)
    postfix_port = free_port()
    server = make_server(
        {"delivery": {"routes": {PEER_DOMAIN: f"127.0.0.1:{postfix_port}"}}},
        workdir=tmp_path / "scaisend",
        smtp_port=postfix_port,
        start=False,
    )
    postfix = PostfixInstance(
        tmp_path / "postfix",
        postfix_port,
        {RETURN_PATH_HOST: f"smtp:[127.0.0.1]:{server.mx_port}"},
        local_domains=(PEER_DOMAIN,),
    )
    try:
        postfix.start()
        server.start()
        yield server, postfix
    finally:
        server.stop()
        postfix.stop()


def test_a_postfix_bounce_reaches_the_log_the_suppressions_and_the_webhook(
    bouncing_peer: tuple[ScaisendServer, PostfixInstance],
    dns_server: DnsServer,
    receiver: WebhookReceiver,
) -> None:
    server, postfix = bouncing_peer
    token, key = account_with_key(server, dns_server)
    hook = admin(
        server,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["bounce"]},
    )
    assert hook.status_code in (200, 201), hook.text
    secret = hook.json()["signing_secret"]

    message_id = send(server, key, GONE)
    try:
        message = wait_for_status(server, key, message_id, "bounced")
    except AssertionError:
        raise AssertionError(f"no bounce; postfix said:\n{postfix.maillog()[-3000:]}") from None
    kinds = [e["event_type"] for e in message["events"]]
    assert kinds[0] == "processed" and kinds[-1] == "bounce"
    assert "delivered" in kinds  # Postfix took it first; the bounce came after, by DSN
    bounce = message["events"][-1]
    assert bounce["email"] == GONE
    assert bounce["data"]["status"] == "5.1.1"
    assert bounce["data"]["bounce_classification"] == "Invalid Address"
    assert "user unknown" in bounce["data"]["reason"]
    assert "dsn=5.1.1, status=bounced" in postfix.maillog()

    listed = admin(server, token, "GET", "/v3/suppression/bounces")
    assert listed.status_code == 200, listed.text
    assert [entry["email"] for entry in listed.json()] == [GONE]

    delivery = receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "bounce")[0]
    expected = hmac.new(
        secret.encode(),
        f"{delivery.headers['x-scaisend-timestamp']}.".encode() + delivery.body,
        hashlib.sha256,
    ).hexdigest()
    assert hmac.compare_digest(delivery.headers["x-scaisend-signature"], expected)
    event = json.loads(delivery.body)
    event = event[0] if isinstance(event, list) else event
    assert event["event"] == "bounce" and event["message_id"] == message_id
    assert event["email"] == GONE and event["status"] == "5.1.1"
    assert event["order"] == "42"

    # the DSN was recorded as it came in
    inbound = server.log()
    assert "event=inbound " in inbound and f"message_id={message_id}" in inbound
