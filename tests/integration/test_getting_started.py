"""docs/getting-started.md and README's first steps, run block by block as written against a
real server, the way tests/support/doc_blocks.py reads a document; the results checked
through the API afterwards."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from tests.support.api import admin, wait_for_status
from tests.support.doc_blocks import (
    Block,
    Reader,
    code_blocks,
    reader_env,
    run_blocks,
    section,
    venv_scaisend,
)
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "getting-started.md"
README = ROOT / "README.md"
FIRST_STEPS = "First steps against a local server"
WRITTEN_URL = "http://127.0.0.1:8080"
WRITTEN_SUBMISSION = '"localhost", 2587'
# A new runnable block must be counted here, so that none goes untested unnoticed.
GUIDE_RUNNABLE = {"sh": 13, "python": 4, "file": 2}
README_RUNNABLE = {"sh": 3}
EVENTS_COMMAND = "scaisend events"


def local_server(make_server: ServerFactory) -> ScaisendServer:
    """A server as `make run` starts it where it matters here: the certificate is made for
    `localhost`, and webhooks may reach loopback (the guide starts the server so)."""
    return make_server({"smtp": {"hostname": "localhost"}})


def reader_for(server: ScaisendServer) -> Reader:
    """A reader in the server's folder, whose `var/` holds its data as `make run`'s does."""
    venv_scaisend(server.workdir)
    rewrites = {
        WRITTEN_URL: server.base_url,
        WRITTEN_SUBMISSION: f'"localhost", {server.submission_port}',
    }
    return Reader(server.workdir, reader_env(server.config), rewrites)


def counted(blocks: list[Block]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for block in blocks:
        if block.kind != "shown":
            counts[block.kind] = counts.get(block.kind, 0) + 1
    return counts


def test_the_documents_name_the_local_server_and_no_literal_ids() -> None:
    guide, readme = GUIDE.read_text(), README.read_text()
    assert counted(code_blocks(guide)) == GUIDE_RUNNABLE
    assert counted(code_blocks(section(readme, FIRST_STEPS))) == README_RUNNABLE
    assert WRITTEN_URL in guide and WRITTEN_SUBMISSION in guide
    assert WRITTEN_URL in section(readme, FIRST_STEPS)
    for document in [guide, readme, *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]:
        for block in code_blocks(document):
            assert "{id}" not in block.code, block  # curl globs it into a 404


def test_the_getting_started_guide_runs_as_written(make_server: ServerFactory) -> None:
    server = local_server(make_server)
    reader = reader_for(server)
    try:
        run_blocks(reader, code_blocks(GUIDE.read_text()))
    finally:
        stop_receiver(reader)
    said = reader.said()

    assert "HTTP 403" in said and "is not verified yet" in said  # the live key, refused
    assert "400 [{'message': 'Does not contain a valid address.'" in said
    assert "personalizations.0.to.0.email" in said
    assert "sent over SMTP" in said and "receiver up" in said
    assert "forged request: HTTP 401" in said
    for line in [
        "1 bounce bounce@example.com",
        "2 deferred defer@example.com",
        "1 delivered defer@example.com",
        "1 open open@example.com",
        "1 processed example@test.scaisend.invalid",
    ]:
        assert line in said, said
    message_id = reader.env["MESSAGE_ID"]
    assert f"{message_id} delivered Hello\n" in said
    assert "delivered Welcome, Ada!" in said
    assert "delivered Hello over SMTP" in said

    # what the server saw: the SMTP mail logged, every signed event taken by the receiver
    token = server.token()
    smtp = admin(server, token, "GET", "/v3/messages?subject=Hello%20over%20SMTP").json()
    assert [m["status"] for m in smtp["messages"]] == ["delivered"]
    hook = reader.env["WEBHOOK_ID"]
    deliveries = admin(server, token, "GET", f"/v3/user/webhooks/{hook}/deliveries?limit=100")
    states = {d["state"] for d in deliveries.json()["result"]}
    assert states == {"delivered"}, deliveries.text
    tail = reader.said(f"{EVENTS_COMMAND} tail").splitlines()
    assert [line.split()[2:4] for line in tail] == [
        ["processed", "bounce@example.com"],
        ["bounce", "bounce@example.com"],
    ], tail


def test_the_readme_first_steps_reach_a_delivered_mail(make_server: ServerFactory) -> None:
    server = local_server(make_server)
    reader = reader_for(server)
    run_blocks(reader, code_blocks(section(README.read_text(), FIRST_STEPS)))

    message_id = reader.env["MESSAGE_ID"]
    assert message_id in reader.said()
    key = reader.env["SCAISEND_TEST_KEY"]
    message = wait_for_status(server, key, message_id, "delivered")
    assert message["to_emails"] == ["open@example.com"]
    tail = reader.said(f"{EVENTS_COMMAND} tail")
    assert tail.count(message_id) >= 3, tail  # processed, delivered and open, one line each


def stop_receiver(reader: Reader) -> None:
    """The guide stops its receiver last; if a block failed before, stop it here."""
    pid = reader.env.get("RECEIVER_PID")
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):  # stopped by the guide, as it should be
        os.kill(int(pid), signal.SIGTERM)
