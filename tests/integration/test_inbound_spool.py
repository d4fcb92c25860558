"""The MX's inbound spool across a crash: DSNs answered 250 and then a SIGKILL (no shutdown
code runs) all bounce their recipient after the restart, and each exactly once."""

from __future__ import annotations

import smtplib

from tests.integration.test_delivery_outcomes import dsn
from tests.support.api import account_with_key, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

COUNT = 20


def test_dsns_acknowledged_before_a_sigkill_all_bounce_once_after_the_restart(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    ids = {
        f"gone{n}@example.com": send(scaisend, key, f"gone{n}@example.com") for n in range(COUNT)
    }
    received = sink.wait_for(COUNT)
    for message_id in ids.values():
        wait_for_status(scaisend, key, message_id, "delivered")
    with smtplib.SMTP("127.0.0.1", scaisend.mx_port, timeout=30) as mx:
        mx.ehlo("mx.example.com")
        for message in received:
            refused = mx.sendmail(
                "", [message.mail_from], dsn(message.rcpt_tos[0], message.mail_from)
            )
            assert refused == {}
    scaisend.kill()  # right after the last 250: some DSNs may be processed, some spooled only
    scaisend.start()
    for message_id in ids.values():
        message = wait_for_status(scaisend, key, message_id, "bounced")
        kinds = [event["event_type"] for event in message["events"]]
        assert kinds.count("bounce") == 1, kinds
