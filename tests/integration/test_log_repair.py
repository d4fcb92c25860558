"""A message acknowledged just before a crash is in the spool but may be missing from the
message log (written in batches); at start the log is rewritten from the spool."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import text

from mta.db.engine import make_engine
from tests.support.api import account_with_key, send, wait_for_status
from tests.support.databases import Database, run_async
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


async def forget(url: str, message_id: str) -> None:
    """Delete what the batch that never reached the database would have written."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for table, column in (
                ("events", "message_id"),
                ("message_recipients", "message_id"),
                ("messages", "id"),
            ):
                sql = f"DELETE FROM {table} WHERE {column} = :id"
                await conn.execute(text(sql), {"id": message_id})
    finally:
        await engine.dispose()


def test_the_message_log_is_rebuilt_from_the_spool(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, database: Database
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    sink.reject["slow@example.com"] = "451 4.2.0 try later"
    message_id = send(scaisend, key, "slow@example.com")
    wait_for_status(scaisend, key, message_id, "deferred")
    scaisend.stop()

    run_async(forget(database.engine_url(scaisend.workdir / "var"), message_id))

    scaisend.start()
    url = f"{scaisend.base_url}/v3/messages/{message_id}"
    deadline, response = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        response = httpx.get(url, headers={"Authorization": f"Bearer {key}"})
        if response.status_code == 200:
            break
        time.sleep(0.2)
    assert response is not None and response.status_code == 200, "log not repaired"
    repaired = response.json()
    assert repaired["subject"] == "Outcome"
    assert repaired["to_emails"] == ["slow@example.com"]
    assert "processed" in [e["event_type"] for e in repaired["events"]]
