"""`[server] workers = 2`: `scaisend serve` supervises two worker processes on the same ports
(SO_REUSEPORT), each with its own spool, one SQLite database. Mail over many connections is
spread over both and delivered once; the queue command and /metrics see both workers; a
SIGKILLed worker is restarted and delivers its queued mail; SIGHUP reaches every worker;
SIGTERM stops them all and exits 0. A spool left by a retired worker is still served."""

from __future__ import annotations

import json
import os
import re
import signal
import smtplib
import socket
import ssl
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from control.fanout import LOCAL_HEADER
from tests.support.api import account_with_key, admin
from tests.support.dashboard import add_user, post_form, signed_in
from tests.support.dns_server import DnsServer
from tests.support.notify import notify_socket_at, wait_state
from tests.support.polling import wait_until
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory, nameserver_of
from tests.support.sink import SmtpSink

SUBJECT = re.compile(rb"^Subject: (w-[\w-]+)\r?$", re.M)
STARTED = re.compile(r"event=worker_started worker=(\d+) pid=(\d+)")
SLOW = "slow@example.com"
SMTP_MESSAGES, HTTP_MESSAGES, QUEUED = 30, 20, 16


WORKERS: dict[str, dict[str, Any]] = {
    "server": {"workers": 2, "shutdown_grace_seconds": 5.0},
    "delivery": {"retry_schedule_seconds": [1]},
    "log": {"level": "info"},
}


def start(servers: ServerFactory) -> ScaisendServer:
    server = servers(WORKERS)
    wait_until(lambda: "event=workers_ready" in server.log(), "every worker ready")
    return server


@pytest.fixture
def workers(make_server: ServerFactory) -> ScaisendServer:
    """Two workers on SQLite (one file, WAL, two writing processes) and on PostgreSQL."""
    return start(make_server)


@pytest.fixture
def on_sqlite(tmp_path: Path, dns_server: DnsServer, sink: SmtpSink) -> Iterator[ServerFactory]:
    """Servers on SQLite alone, for the tests whose subject is the processes."""
    servers = ServerFactory(
        tmp_path,
        nameserver=nameserver_of(dns_server),
        smtp_port=sink.controller.port,
        database_url="",
    )
    yield servers
    servers.stop_all()


def pids(server: ScaisendServer) -> dict[int, int]:
    """Each worker's newest pid, from the supervisor's log."""
    return {int(k): int(pid) for k, pid in STARTED.findall(server.log())}


def local(server: ScaisendServer, worker: int, path: str, token: str = "") -> httpx.Response:
    """Ask one worker alone, over its Unix socket."""
    socket = server.workdir / "var" / "run" / f"worker-{worker}.sock"
    headers = {LOCAL_HEADER: "1"} | ({"Authorization": f"Bearer {token}"} if token else {})
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), timeout=10) as client:
        return client.get(f"http://worker{path}", headers=headers)


def ready(server: ScaisendServer, worker: int) -> bool:
    try:
        return local(server, worker, "/readyz").status_code == 200
    except httpx.TransportError:  # not listening yet
        return False


def metric(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def smtp_send(server: ScaisendServer, key: str, subject: str, to: str) -> None:
    """One message on a connection of its own, so the kernel may pick either worker."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=10) as client:
        client.starttls(context=context)
        client.login("apikey", key)
        body = f"From: app@mail.example.com\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nx\r\n"
        client.sendmail("app@mail.example.com", [to], body.encode())


def http_send(server: ScaisendServer, key: str, subject: str, to: str) -> None:
    mail = {
        "personalizations": [{"to": [{"email": to}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": subject,
        "content": [{"type": "text/plain", "value": "x"}],
    }
    response = admin(server, key, "POST", "/v3/mail/send", mail)  # a new connection each
    assert response.status_code == 202, response.text


def delivered(sink: SmtpSink) -> Counter[str]:
    return Counter(
        m.group(1).decode() for r in sink.snapshot() if (m := SUBJECT.search(r.data)) is not None
    )


def queue_ids(server: ScaisendServer) -> set[str]:
    done = server.command("queue", "list", "--json")
    assert done.returncode == 0, done.stderr
    return {m["queue_id"] for m in json.loads(done.stdout)["messages"]}


def send_all(server: ScaisendServer, key: str) -> set[str]:
    """Mail for the sink over many connections; QUEUED of them to a recipient that defers."""
    subjects = set()
    for n in range(SMTP_MESSAGES):
        subject = f"w-smtp-{n}"
        smtp_send(server, key, subject, SLOW if n < QUEUED else "ada@example.com")
        subjects.add(subject)
    for n in range(HTTP_MESSAGES):
        http_send(server, key, f"w-http-{n}", "ada@example.com")
        subjects.add(f"w-http-{n}")
    return subjects


def worker_messages(server: ScaisendServer, worker: int, token: str) -> list[dict[str, Any]]:
    return list(local(server, worker, "/api/admin/queue", token).json()["messages"])


def worker_queue(server: ScaisendServer, worker: int, token: str) -> set[str]:
    return {m["queue_id"] for m in worker_messages(server, worker, token)}


def check_spread(server: ScaisendServer, token: str) -> None:
    """Both workers took connections and hold deferred mail; the merged /metrics is the sum
    of theirs; the queue command lists the mail of both."""
    texts = [local(server, k, "/metrics").text for k in (0, 1)]
    sessions = [metric(t, 'scaisend_smtp_sessions_total{listener="submission"}') for t in texts]
    assert all(n > 0 for n in sessions), sessions
    merged = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    assert metric(merged, 'scaisend_smtp_sessions_total{listener="submission"}') == sum(sessions)
    held = [worker_queue(server, k, token) for k in (0, 1)]
    assert all(held), held  # both spools hold some of the deferred mail
    assert queue_ids(server) == held[0] | held[1]
    assert len(held[0] | held[1]) == QUEUED
    check_dashboard(server, token, held)


def check_dashboard(server: ScaisendServer, token: str, held: list[set[str]]) -> None:
    """The dashboard's Queue page, served by either worker, lists both workers' mail, and
    its hold reaches the worker whose spool has the message."""
    add_user(server, "--account", "acme", "--email", "ada@acme.example", "--role", "admin")
    client = signed_in(server, "ada@acme.example")
    shown = client.get("/ui/queue?per_page=100").text
    assert set(re.findall(r'<tr data-queue-id="([^"]+)"', shown)) == held[0] | held[1]
    assert f'data-testid="depth-example.com">{QUEUED}<' in shown
    other = sorted(held[1])[0]
    for action in ("hold", "release"):
        done = post_form(client, "/ui/queue", {"act": action, "queue_id": other})
        assert done.status_code == 303, done.text
        state = {m["queue_id"]: m["state"] for m in worker_messages(server, 1, token)}[other]
        assert (state == "held") == (action == "hold"), (action, state)


def test_two_workers_serve_as_one(
    workers: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    server = workers
    token, key = account_with_key(server, dns_server)
    sink.reject[SLOW] = "451 4.2.0 try later"
    subjects = send_all(server, key)
    wait_until(lambda: len(delivered(sink)) == len(subjects) - QUEUED, "mail to ada delivered")
    wait_until(lambda: len(queue_ids(server)) == QUEUED, "deferred mail in the queue")
    check_spread(server, token)

    before = pids(server)
    os.kill(before[1], signal.SIGKILL)
    wait_until(lambda: pids(server)[1] != before[1], "worker 1 restarted")
    wait_until(lambda: ready(server, 1), "worker 1 ready again", 30)
    del sink.reject[SLOW]
    wait_until(lambda: set(delivered(sink)) == subjects, "the queued mail delivered", 30)
    assert max(delivered(sink).values()) == 1
    assert queue_ids(server) == set()

    os.kill(server.process.pid, signal.SIGHUP)  # type: ignore[union-attr]
    for k in (0, 1):
        wait_until(lambda k=k: f"worker={k} event=config_reloaded" in server.log(), "reloads")  # type: ignore[misc]
    last = pids(server)
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    for pid in last.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "database is locked" not in server.log()


def test_a_retired_spool_is_served_and_workers_stop_with_the_supervisor(
    tmp_path: Path, on_sqlite: ServerFactory
) -> None:
    """And when the supervisor is SIGKILLed, its workers stop too (no orphan keeps a spool)."""
    (tmp_path / "var" / "spool-3").mkdir(parents=True)  # left when workers went from 4 to 2
    server = start(on_sqlite)
    try:
        assert "event=worker_retired worker=3" in server.log()
        assert sorted(pids(server)) == [0, 1, 3]
        assert ready(server, 3)
        assert queue_ids(server) == set()
        server.kill()
        left = pids(server).values()
        wait_until(lambda: not any(running(pid) for pid in left), "the workers to stop")
        assert server.log().count("event=stopped") == 3  # each shut down in order
    finally:
        server.stop()


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state  # a zombie has exited (reparented, not yet reaped)


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """Standing in for systemd's socket, in the supervisor's environment."""
    with notify_socket_at(tmp_path / "notify.sock", monkeypatch, watchdog_usec=400_000) as sock:
        yield sock


def test_the_supervisor_speaks_for_its_workers_to_systemd(
    on_sqlite: ServerFactory, notify_socket: socket.socket
) -> None:
    """One READY=1 once every worker is ready, watchdog pings relayed, a reload reported
    done when every worker has reloaded, STOPPING=1 and exit 0 on SIGTERM."""
    server = start(on_sqlite)
    try:
        seen = wait_state(notify_socket, "READY=1")
        assert "event=workers_ready" in server.log()  # logged before READY=1 is sent
        assert "STOPPING=1" not in seen
        wait_state(notify_socket, "WATCHDOG=1", timeout=5)
        wait_state(notify_socket, "WATCHDOG=1", timeout=5)
        assert server.process is not None
        server.process.send_signal(signal.SIGHUP)
        wait_state(notify_socket, "RELOADING=1")
        wait_state(notify_socket, "READY=1")  # once both workers are done
        assert server.log().count("event=config_reloaded") == 2
        server.process.send_signal(signal.SIGTERM)
        wait_state(notify_socket, "STOPPING=1")
        assert server.process.wait(timeout=30) == 0
    finally:
        server.stop()
