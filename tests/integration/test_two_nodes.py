"""Two `scaisend serve` nodes, each with its own spool, on one PostgreSQL database behave as
one service: either answers for any account and message, keys and rate limits are shared,
a cancel made through one stops a scheduled send spooled on the other, and when one is
SIGKILLed in a stream of sends nothing acknowledged is lost, mail comes twice only if it was
in flight on the killed node, and the other node takes over its webhook leases."""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mta.core.ttl_cache import SHARED_CACHE_SECONDS
from mta.db.sealed import new_sealing_key
from tests.support.api import admin, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.polling import wait_until
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory, nameserver_of
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver

SUBJECT = re.compile(rb"^Subject: (node-[\w-]+)\r?$", re.M)
IN_FLIGHT_BOUND = 40  # deliveries the killed node may have had under way (its concurrency)


class Cluster:
    """The shared database (for the test's own look-ups) and the two nodes."""

    def __init__(self, postgres: Any, database: str, a: ScaisendServer, b: ScaisendServer):
        self.postgres, self.database, self.a, self.b = postgres, database, a, b

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            import asyncpg

            conn = await asyncpg.connect(
                host="127.0.0.1", port=self.postgres.port, user="postgres", database=self.database
            )
            try:
                return [tuple(row) for row in await conn.fetch(sql)]
            finally:
                await conn.close()

        return asyncio.run(run())


@pytest.fixture
def cluster(
    tmp_path: Path, postgres_cluster: Any, dns_server: DnsServer, sink: SmtpSink
) -> Iterator[Cluster]:
    database = asyncio.run(postgres_cluster.create_database())
    extra: dict[str, dict[str, Any]] = {
        "auth": {"jwt_secret": "one-secret-for-every-node-of-the-cluster"},
        "storage": {"secrets_keys": [new_sealing_key()]},  # each reads what the other sealed
        # Slow enough refill that X-RateLimit-Remaining steps by exactly one a request.
        "http": {"rate_limit_per_second": 0.01, "rate_limit_burst": 100_000},
        "webhooks": {
            "allow_private_targets": True,
            "timeout_seconds": 2.0,
            "lease_seconds": 3.0,
            "per_webhook_concurrency": 16,
            "retry_schedule_seconds": [1] * 20,
        },
        "log": {"level": "info"},
    }
    servers = ServerFactory(
        tmp_path,
        nameserver=nameserver_of(dns_server),
        smtp_port=sink.controller.port,
        database_url=postgres_cluster.url(database),
    )
    a, b = (servers(extra, workdir=tmp_path / name, start=False) for name in ("a", "b"))
    try:
        yield Cluster(postgres_cluster, database, a.start(), b.start())
    finally:
        servers.stop_all()
        asyncio.run(postgres_cluster.drop_database(database))


def mail(subject: str, to: str = "ada@example.com", **fields: Any) -> dict[str, Any]:
    return {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": subject,
        "content": [{"type": "text/plain", "value": "x"}],
        **fields,
    }


def smtp_message(subject: str) -> bytes:
    head = f"From: app@mail.example.com\r\nTo: ada@example.com\r\nSubject: {subject}\r\n"
    return f"{head}\r\nx\r\n".encode()


def delivered(sink: SmtpSink) -> Counter[str]:
    return sink.tally(SUBJECT)


def message_status(node: ScaisendServer, token: str, message_id: str) -> str | None:
    response = admin(node, token, "GET", f"/v3/messages/{message_id}")
    return str(response.json()["status"]) if response.status_code == 200 else None


class Stream:
    """Threads sending numbered mail through each node (HTTP and SMTP submission) until
    stopped; `acked` maps each acknowledged subject to the node that took it."""

    def __init__(self, nodes: dict[str, ScaisendServer], key: str) -> None:
        self.nodes, self.key = nodes, key
        self.acked: dict[str, str] = {}
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.counter = 0
        self.threads = [
            threading.Thread(target=target, args=(name,))
            for name in nodes
            for target in (self.http, self.smtp)
        ]

    def subject(self, name: str, kind: str) -> str:
        with self.lock:
            self.counter += 1
            return f"node-{name}-{kind}-{self.counter}"

    def ack(self, subject: str, name: str) -> None:
        with self.lock:
            self.acked[subject] = name

    def count(self, name: str) -> int:
        with self.lock:
            return sum(node == name for node in self.acked.values())

    def http(self, name: str) -> None:
        url = f"{self.nodes[name].base_url}/v3/mail/send"
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                subject = self.subject(name, "http")
                try:
                    response = client.post(url, headers=headers, json=mail(subject))
                except httpx.HTTPError:
                    self.stop.wait(0.05)  # the node is down: try again shortly
                    continue
                if response.status_code == 202:
                    self.ack(subject, name)

    def smtp(self, name: str) -> None:
        port = self.nodes[name].submission_port
        while not self.stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
                    client.starttls(context=insecure_tls())
                    client.login("apikey", self.key)
                    while not self.stop.is_set():  # one session, many messages
                        subject = self.subject(name, "smtp")
                        sender, to = "app@mail.example.com", ["ada@example.com"]
                        client.sendmail(sender, to, smtp_message(subject))
                        self.ack(subject, name)
            except (OSError, smtplib.SMTPException):
                self.stop.wait(0.05)  # the node is down: try again shortly

    def __enter__(self) -> Stream:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


def make_key(node: ScaisendServer, token: str) -> tuple[str, str]:
    body = {"name": "k", "environment": "live", "scopes": ["mail.send"]}
    response = admin(node, token, "POST", "/v3/api_keys", body)
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"]), str(response.json()["api_key_id"])


def send(node: ScaisendServer, key: str, body: dict[str, Any]) -> str:
    response = admin(node, key, "POST", "/v3/mail/send", body)
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def remaining(node: ScaisendServer, key: str) -> int:
    response = admin(node, key, "GET", "/v3/scopes")
    return int(response.headers["x-ratelimit-remaining"])


def check_one_service(cluster: Cluster, sink: SmtpSink, token: str, key: str) -> None:
    """Mail sent through A is in the message log read through B; a key made on A sends
    over SMTP on B; both nodes spend from one rate-limit bucket."""
    a, b = cluster.a, cluster.b
    message_id = send(a, key, mail("node-a-first"))
    wait_until(lambda: message_status(b, token, message_id) == "delivered", "log read on B")
    with smtplib.SMTP("127.0.0.1", b.submission_port, timeout=10) as client:
        client.starttls(context=insecure_tls())
        client.login("apikey", key)
        client.sendmail("app@mail.example.com", ["ada@example.com"], smtp_message("node-b-smtp"))
    wait_until(lambda: delivered(sink)["node-b-smtp"] == 1, "SMTP mail through B")
    limited, _ = make_key(a, token)
    seen = [remaining(node, limited) for node in (a, b, a, b)]
    assert seen == [seen[0] - n for n in range(4)], seen


def check_revoke(cluster: Cluster, token: str) -> None:
    """A key revoked through B is refused on A within the shared cache bound."""
    a, b = cluster.a, cluster.b
    key, key_id = make_key(a, token)
    assert admin(a, key, "GET", "/v3/scopes").status_code == 200  # now cached on A
    assert admin(b, token, "DELETE", f"/v3/api_keys/{key_id}").status_code == 204
    revoked_at = time.monotonic()
    assert admin(b, key, "GET", "/v3/scopes").status_code == 401
    wait_until(lambda: admin(a, key, "GET", "/v3/scopes").status_code == 401, "revoke on A")
    assert time.monotonic() - revoked_at <= SHARED_CACHE_SECONDS + 1.5
    with smtplib.SMTP("127.0.0.1", a.submission_port, timeout=10) as client:
        client.starttls(context=insecure_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("apikey", key)


def schedule(cluster: Cluster, token: str, key: str) -> tuple[str, int]:
    """A send scheduled on A in a batch cancelled through B; one scheduled on B."""
    batch = admin(cluster.a, token, "POST", "/v3/mail/batch")
    assert batch.status_code == 201, batch.text
    batch_id, at = batch.json()["batch_id"], int(time.time()) + 4
    cancelled = send(cluster.a, key, mail("node-a-cancelled", send_at=at, batch_id=batch_id))
    send(cluster.b, key, mail("node-b-scheduled", send_at=at))
    cancel = {"batch_id": batch_id, "status": "cancel"}
    posted = admin(cluster.b, token, "POST", "/v3/user/scheduled_sends", cancel)
    assert posted.status_code == 201, posted.text
    return cancelled, at


def sending_rows(cluster: Cluster) -> dict[str, float]:
    sql = "SELECT event_id, claimed_until FROM webhook_deliveries WHERE state = 'sending'"
    return {event_id: until for event_id, until in cluster.query(sql)}


def outbox_busy(cluster: Cluster) -> int:
    sql = "SELECT count(*) FROM webhook_deliveries WHERE state IN ('pending', 'sending')"
    return int(cluster.query(sql)[0][0])


def kill_a_in_a_stream(cluster: Cluster, key: str) -> tuple[dict[str, str], dict[str, float]]:
    """Send through both; SIGKILL A mid-stream while its webhook POSTs are in flight; go on
    through B. The acknowledged subjects, and the outbox rows claimed at the kill."""
    with Stream({"a": cluster.a, "b": cluster.b}, key) as stream:
        wait_until(lambda: stream.count("a") >= 40, "mail acknowledged by A")
        wait_until(lambda: len(sending_rows(cluster)) >= 20, "both nodes posting webhooks")
        cluster.a.kill()
        claimed = sending_rows(cluster)
        after = stream.count("b") + 40
        wait_until(lambda: stream.count("b") >= after, "mail acknowledged by B alone")
    return dict(stream.acked), claimed


def taken_over(cluster: Cluster, claimed: dict[str, float]) -> set[str]:
    """The rows claimed at the kill that were finished only after their lease ran out: A's
    claims, posted by B once the lease let it."""
    ids = ", ".join(f"'{event_id}'" for event_id in claimed)
    sql = f"SELECT event_id, last_attempt_at FROM webhook_deliveries WHERE event_id IN ({ids})"
    return {e for e, at in cluster.query(sql) if at is not None and at >= claimed[e]}


def received(receiver: WebhookReceiver) -> Counter[str]:
    return Counter(
        json.loads(d.body)["event_id"] for d in list(receiver.deliveries) if d.status == 200
    )


def webhooks_settled(cluster: Cluster, receiver: WebhookReceiver, messages: int) -> bool:
    """Every message has its delivered event in the outbox, and every row is posted."""
    rows = cluster.query("SELECT event_id, state, event_type, payload FROM webhook_deliveries")
    reported = {json.loads(p)["message_id"] for _, _, kind, p in rows if kind == "delivered"}
    posted = all(state == "delivered" for _, state, _, _ in rows)
    return posted and len(reported) >= messages and set(received(receiver)) >= {r[0] for r in rows}


def test_two_nodes_behave_as_one_service(
    cluster: Cluster, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    started = time.monotonic()
    a, b = cluster.a, cluster.b
    token = a.token("acme")
    set_up_account(a, dns_server, token)
    key, _ = make_key(a, token)
    hook = admin(
        b, token, "POST", "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["processed", "delivered"]},
    )  # fmt: skip
    assert hook.status_code == 201, hook.text
    cancelled, at = schedule(cluster, token, key)
    check_one_service(cluster, sink, token, key)
    check_revoke(cluster, token)
    wait_until(lambda: message_status(b, token, cancelled) == "dropped", "the cancel on A")
    wait_until(lambda: delivered(sink)["node-b-scheduled"], "the scheduled send on B")
    assert time.time() >= at

    receiver.delay = 0.2  # POSTs stay in flight long enough for A to die holding some
    acked, claimed = kill_a_in_a_stream(cluster, key)
    wait_until(lambda: outbox_busy(cluster) == 0, "B to post every event, A's leases too")
    orphans = taken_over(cluster, claimed)
    assert orphans, "A held no webhook claims at the kill"
    receiver.delay = 0.0
    a.start()
    wait_until(lambda: set(acked) <= set(delivered(sink)), "every acknowledged mail", 30)
    messages = len(acked) + 3  # and node-a-first, node-b-smtp, node-b-scheduled
    settled = lambda: webhooks_settled(cluster, receiver, messages)  # noqa: E731
    wait_until(settled, "every webhook event posted", 30)

    final = delivered(sink)
    twice = {subject: n - 1 for subject, n in final.items() if n > 1}
    assert {acked.get(subject) for subject in twice} <= {"a"}, twice  # only A was killed
    assert sum(twice.values()) <= IN_FLIGHT_BOUND
    assert final["node-b-scheduled"] == 1 and "node-a-cancelled" not in final
    outbox = {event_id for (event_id,) in cluster.query("SELECT event_id FROM webhook_deliveries")}
    got = received(receiver)
    assert set(got) == outbox
    posted_twice = {event_id for event_id, n in got.items() if n > 1}
    assert posted_twice <= orphans and max(got.values()) <= 2
    print(
        f"\ntwo nodes: {len(acked)} acknowledged ({sum(n == 'a' for n in acked.values())} by A),"
        f" {sum(twice.values())} delivered twice (in flight on A at the kill);"
        f" {len(outbox)} webhook events, {len(orphans)} leases taken over by B,"
        f" {len(posted_twice)} posted twice; {time.monotonic() - started:.1f} s"
    )
