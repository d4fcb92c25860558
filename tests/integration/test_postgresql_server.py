"""`scaisend serve` on PostgreSQL: start-up migrates an empty database, mail is delivered
and bounced, and the message log, suppressions and stats are kept there, across a restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory, nameserver_of
from tests.support.sink import SmtpSink


def _wait_for_stats(server: ScaisendServer, token: str) -> dict[str, Any]:
    today = time.strftime("%Y-%m-%d", time.gmtime())
    deadline, metrics = time.monotonic() + 20, {}
    while time.monotonic() < deadline:
        response = admin(server, token, "GET", f"/v3/stats?start_date={today}")
        assert response.status_code == 200, response.text
        days = response.json()
        metrics = days[0]["stats"][0]["metrics"] if days else {}
        if metrics.get("delivered") == 1 and metrics.get("bounces") == 1:
            return dict(metrics)
        time.sleep(0.2)
    raise AssertionError(f"stats never counted the delivery and the bounce: {metrics}")


def test_serve_on_postgresql(
    tmp_path: Path, postgres_cluster: Any, dns_server: DnsServer, sink: SmtpSink
) -> None:
    database = asyncio.run(postgres_cluster.create_database(template="template1"))
    server = ServerFactory(
        tmp_path,
        nameserver=nameserver_of(dns_server),
        smtp_port=sink.controller.port,
        database_url=postgres_cluster.url(database),
    )(start=False)
    assert server.command("db", "current").stdout.startswith("none")
    server.start()
    try:
        token, key = account_with_key(server, dns_server)
        sink.reject["gone@example.com"] = "550 5.1.1 <gone@example.com>: user unknown"
        message_id = send(server, key, "ada@example.com", "gone@example.com")
        wait_for_status(server, key, message_id, "delivered")  # the first recipient
        metrics = _wait_for_stats(server, token)
        assert metrics["requests"] == 2 and metrics["processed"] == 2

        server.stop()
        assert server.command("db", "current").stdout.strip().endswith("(head)")
        server.start()
        bounces = admin(server, token, "GET", "/v3/suppression/bounces").json()
        assert [b["email"] for b in bounces] == ["gone@example.com"]
        kept = wait_for_status(server, key, message_id, "delivered")
        assert sorted(e["event_type"] for e in kept["events"])[:2] == ["bounce", "delivered"]
    finally:
        server.stop()
        asyncio.run(postgres_cluster.drop_database(database))
