"""Durability under SIGKILL: clients send over SMTP and HTTP while the server is killed at
random moments and restarted; every acknowledged message must reach the sink, duplicates
only for deliveries in flight at a kill, and mail delivered before a kill never again."""

from __future__ import annotations

import random
import re
import smtplib
import threading
import time
from collections import Counter

import httpx
import pytest

from tests.support.api import admin, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink

KILLS = 6
SUBJECT = re.compile(rb"^Subject: (crash-[\w-]+)\r?$", re.M)


@pytest.fixture
def server(make_server: ServerFactory) -> ScaisendServer:
    """Made, not started: the test starts it (and starts it again after each kill)."""
    relay = {"relay_networks": ["127.0.0.1/32"], "relay_account": "crash"}
    return make_server({"smtp": relay, "log": {"level": "info"}}, start=False)


class Clients:
    """Threads sending numbered messages until told to stop; they record what was acked."""

    def __init__(self, server: ScaisendServer, api_key: str) -> None:
        self.server, self.api_key = server, api_key
        self.acked: set[str] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.counter = 0

    def token(self, kind: str) -> str:
        with self.lock:
            self.counter += 1
            return f"crash-{kind}-{self.counter}"

    def smtp(self) -> None:
        while not self.stop.is_set():
            token = self.token("smtp")
            try:
                with smtplib.SMTP("127.0.0.1", self.server.mx_port, timeout=5) as client:
                    client.sendmail(
                        "app@mail.example.com",
                        ["ada@example.com"],
                        f"From: app@mail.example.com\r\nSubject: {token}\r\n\r\nx\r\n".encode(),
                    )
            except (OSError, smtplib.SMTPException):
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.add(token)

    def http(self) -> None:
        while not self.stop.is_set():
            token = self.token("http")
            try:
                response = httpx.post(
                    f"{self.server.base_url}/v3/mail/send",
                    timeout=5,
                    headers={"Authorization": f"Bearer {self.api_key}"},
                    json={
                        "personalizations": [{"to": [{"email": "bob@example.com"}]}],
                        "from": {"email": "hello@mail.example.com"},
                        "subject": token,
                        "content": [{"type": "text/plain", "value": "x"}],
                    },
                )
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if response.status_code == 202:
                with self.lock:
                    self.acked.add(token)

    def run(self, seconds: float) -> None:
        self.stop.clear()
        threads = [
            threading.Thread(target=target)
            for target in (self.smtp, self.smtp, self.smtp, self.http, self.http)
        ]
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=10)


def delivered(sink: SmtpSink) -> Counter[str]:
    return sink.tally(SUBJECT)


def test_acknowledged_mail_survives_sigkill(
    server: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    rng = random.Random()
    server.start()
    token = server.token("crash")
    set_up_account(server, dns_server, token)
    api_key = admin(
        server,
        token,
        "POST",
        "/v3/api_keys",
        {"name": "crash", "environment": "live", "scopes": ["mail.send"]},
    ).json()["api_key"]
    clients = Clients(server, api_key)

    # Mail fully delivered before a kill must never come again.
    clients.run(1.0)
    settled = set(clients.acked)
    deadline = time.monotonic() + 30
    while not settled <= set(delivered(sink)) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # let the spool record the deliveries
    before = delivered(sink)
    assert settled <= set(before)

    for _ in range(KILLS):
        killer = threading.Timer(rng.uniform(0.3, 1.5), server.kill)
        killer.start()
        clients.run(1.8)
        killer.join()
        server.start()

    clients.run(0.5)
    deadline = time.monotonic() + 90
    while not clients.acked <= set(delivered(sink)) and time.monotonic() < deadline:
        time.sleep(0.2)
    final = delivered(sink)
    missing = clients.acked - set(final)
    duplicates = sum(count - 1 for count in final.values() if count > 1)
    print(
        f"\ncrash test: {KILLS} kills, {len(clients.acked)} acknowledged, "
        f"{len(final)} delivered, {duplicates} duplicate deliveries, {len(missing)} lost"
    )
    assert not missing, f"acknowledged but never delivered: {sorted(missing)[:10]}"
    assert all(final[t] == before[t] for t in settled), "mail delivered before a kill came again"
    assert duplicates <= KILLS * 20  # at most the deliveries in flight at each kill
