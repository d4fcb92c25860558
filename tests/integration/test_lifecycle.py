"""The process lifecycle of `scaisend serve`: one server per spool (a second one refuses to
start), sd_notify states (READY, WATCHDOG, STOPPING), and a SIGTERM that lets an open SMTP
session finish its DATA before the process exits 0."""

from __future__ import annotations

import asyncio
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from tests.support.notify import notify_socket_at, wait_state
from tests.support.server import free_port
from tests.support.servers import SINK_HOST, ServerFactory
from tests.support.sink import SmtpSink

RELAY = {"smtp": {"relay_networks": ["127.0.0.1/32"], "relay_account": "acme"}}
GRACE = {"server": {"shutdown_grace_seconds": 30.0}}  # the default, which these tests test


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    with notify_socket_at(tmp_path / "notify.sock", monkeypatch, watchdog_usec=200_000) as sock:
        yield sock


def test_a_second_server_on_the_same_spool_refuses_to_start(
    tmp_path: Path, make_server: ServerFactory
) -> None:
    first = make_server()
    try:
        data_dir = {"data_dir": str(tmp_path / "var")}
        second = make_server({"storage": data_dir}, workdir=tmp_path / "second", start=False)
        assert first.process is not None
        result = subprocess.run(
            [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(second.config)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stderr
        assert f"is in use by process {first.process.pid}" in result.stderr
        assert httpx.get(f"{first.base_url}/v3/messages", timeout=5).status_code == 401
        assert first.process.poll() is None
    finally:
        first.stop()
    assert first.process.returncode == 0


def test_sd_notify_ready_watchdog_and_stopping(
    make_server: ServerFactory, notify_socket: socket.socket
) -> None:
    server = make_server()
    try:
        seen = wait_state(notify_socket, "READY=1")
        assert "STOPPING=1" not in seen
        wait_state(notify_socket, "WATCHDOG=1", timeout=5)
        wait_state(notify_socket, "WATCHDOG=1", timeout=5)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        wait_state(notify_socket, "STOPPING=1")
        assert server.process.wait(timeout=30) == 0
    finally:
        server.kill()


def test_sigterm_lets_an_open_smtp_session_finish_its_data(
    make_server: ServerFactory, sink: SmtpSink, notify_socket: socket.socket
) -> None:
    server = make_server(RELAY | GRACE)
    try:
        wait_state(notify_socket, "READY=1")
        assert server.process is not None
        with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as client:
            client.ehlo("app.internal")
            client.mail("app@other.example.org")
            client.rcpt("bob@example.com")
            server.process.send_signal(signal.SIGTERM)
            wait_state(notify_socket, "STOPPING=1")
            with pytest.raises(OSError):  # no longer accepting
                socket.create_connection(("127.0.0.1", server.mx_port), timeout=5).close()
            time.sleep(2)  # a slow client: without the grace period the server is gone by now
            message = b"From: app@other.example.org\r\nSubject: late\r\n\r\nstill here\r\n"
            code, _ = client.data(message)
            assert code == 250
        assert server.process.wait(timeout=30) == 0
        assert "event=stopped" in server.log()
        if not sink.snapshot():  # not delivered before the stop: it waits in the spool
            server.start()
        assert sink.wait_for(1)[0].rcpt_tos == ["bob@example.com"]
    finally:
        server.stop()


class SlowRemote:
    """A remote MX that holds its DATA reply until the test releases it."""

    def __init__(self) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        self.received: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.arrived.set()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 30)
        self.received.append(envelope.original_content or b"")
        return "250 2.0.0 Ok: slowly"


def test_sigterm_lets_a_delivery_in_flight_finish(
    make_server: ServerFactory, notify_socket: socket.socket
) -> None:
    remote = SlowRemote()
    controller = Controller(remote, hostname=SINK_HOST, port=free_port(SINK_HOST))
    controller.start()
    server = make_server(RELAY | GRACE, smtp_port=controller.port)
    try:
        with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as client:
            client.sendmail(
                "app@other.example.org", ["bob@example.com"], b"Subject: s\r\n\r\nx\r\n"
            )
        assert remote.arrived.wait(30), "the delivery never reached the remote"
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        wait_state(notify_socket, "STOPPING=1")
        time.sleep(1)  # the remote is slow to answer: the server must wait for it
        remote.release.set()
        assert server.process.wait(timeout=30) == 0
        assert len(remote.received) == 1
        delivered = [line for line in server.log().splitlines() if "event=delivered" in line]
        assert len(delivered) == 1, server.log()[-3000:]  # recorded, so never sent again
    finally:
        remote.release.set()
        server.stop()
        controller.stop()
