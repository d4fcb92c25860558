"""SIGHUP reloads the config file of a running `scaisend serve`: a new static route, a lower HTTP
rate limit and the log level apply at once while an open SMTP session finishes its mail; a bad
file changes nothing; a restart-only key is named in a warning and keeps its running value."""

from __future__ import annotations

import email.policy
import signal
import smtplib
import socket
import ssl
import time
import tomllib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api import account_with_key
from tests.support.dns_server import DnsServer
from tests.support.notify import notify_socket_at
from tests.support.server import ScaisendServer, free_port, write_config
from tests.support.servers import SINK_HOST, ServerFactory, mx_sink
from tests.support.sink import SmtpSink

DEBUG_LINE = "level=debug"


@pytest.fixture
def second_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    """Another MX on loopback, only reachable through a static route."""
    directory = tmp_path / "second-sink"
    directory.mkdir()
    sink = mx_sink(directory)
    yield sink
    sink.stop()


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    with notify_socket_at(tmp_path / "notify.sock", monkeypatch) as sock:
        yield sock


@pytest.fixture
def server(make_server: ServerFactory, notify_socket: socket.socket) -> Iterator[ScaisendServer]:
    running = make_server({"log": {"level": "info"}})
    yield running
    running.stop()  # before the notify socket closes


def rewrite(server: ScaisendServer, **sections: dict[str, Any]) -> None:
    """The config file with `sections`' keys changed, the rest as it was."""
    data = tomllib.loads(server.config.read_text())
    for section, keys in sections.items():
        data.setdefault(section, {}).update(keys)
    write_config(server.config, data)


def wait_line(server: ScaisendServer, event: str, before: int) -> str:
    """Wait for more than `before` log lines with `event`; the last of them."""
    deadline = time.monotonic() + 15
    while server.log().count(event) <= before:
        assert server.process is not None and server.process.poll() is None, server.log()[-3000:]
        assert time.monotonic() < deadline, f"no {event} in log: {server.log()[-3000:]}"
        time.sleep(0.05)
    return [line for line in server.log().splitlines() if event in line][-1]


def hangup(server: ScaisendServer, event: str) -> str:
    """SIGHUP, then wait for one more log line with `event`; that line."""
    before = server.log().count(event)
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    line = wait_line(server, event, before)
    assert server.process.poll() is None
    return line


def notified(sock: socket.socket) -> list[str]:
    """Every state line the server has sent so far (reads until a second of silence)."""
    seen: list[str] = []
    for _ in range(100):
        try:
            seen.extend(sock.recv(4096).decode().split("\n"))
        except TimeoutError:
            break
    return seen


def unauthenticated_statuses(server: ScaisendServer, count: int) -> list[int]:
    """Statuses of `count` quick /v3 requests without credentials (the address's bucket)."""
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        return [client.get("/v3/scopes").status_code for _ in range(count)]


def message(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Acme <hello@mail.example.com>"
    msg["To"] = "ada@example.com"
    msg["Subject"] = subject
    msg.set_content("Sent across a config reload.\n")
    return msg.as_bytes(policy=email.policy.SMTP)


def open_session(server: ScaisendServer, key: str) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30)
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    client.starttls(context=tls)
    client.ehlo("client.test")
    client.login("apikey", key)
    return client


def test_sighup_applies_route_rate_limit_and_log_level_without_dropping_a_session(
    server: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, second_sink: SmtpSink
) -> None:
    _, key = account_with_key(server, dns_server)
    assert 429 not in unauthenticated_statuses(server, 5)
    assert DEBUG_LINE not in server.log()
    with open_session(server, key) as session:
        assert session.mail("hello@mail.example.com")[0] == 250
        assert session.rcpt("ada@example.com")[0] == 250

        rewrite(
            server,
            delivery={"routes": {"example.com": f"{SINK_HOST}:{second_sink.controller.port}"}},
            http={"rate_limit_per_second": 0.1, "rate_limit_burst": 3},
            log={"level": "debug"},
        )
        line = hangup(server, "event=config_reloaded")
        assert "applied=http.rate_limit_per_second,http.rate_limit_burst,delivery.routes" in line
        assert "event=config_restart_needed" not in server.log()

        code, _ = session.data(message("across the reload"))
        assert code == 250
        assert session.quit()[0] == 221
    (received,) = second_sink.wait_for(1)
    assert b"across the reload" in received.data
    assert sink.snapshot() == []  # the MX route of before the reload is not used any more
    assert unauthenticated_statuses(server, 4) == [401, 401, 401, 429]
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
        assert client.noop()[0] == 250  # a new session: its connection is logged at debug
    assert DEBUG_LINE in server.log().partition("event=config_reloaded")[2]


def test_an_invalid_config_keeps_the_server_on_the_old_one(
    server: ScaisendServer,
    dns_server: DnsServer,
    sink: SmtpSink,
    second_sink: SmtpSink,
    notify_socket: socket.socket,
) -> None:
    _, key = account_with_key(server, dns_server)
    notified(notify_socket)  # READY=1 of the start
    rewrite(
        server,
        delivery={"routes": {"example.com": f"{SINK_HOST}:{second_sink.controller.port}"}},
        http={"rate_limit_burst": 3},
        smtp={"max_connections": 0},
    )
    line = hangup(server, "event=config_reload_failed")
    assert "level=error" in line and "smtp.max_connections" in line
    assert "event=config_reloaded" not in server.log()
    states = notified(notify_socket)
    assert "RELOADING=1" in states and "READY=1" in states[states.index("RELOADING=1") :]

    with open_session(server, key) as session:
        assert session.sendmail("hello@mail.example.com", ["ada@example.com"], message("old")) == {}
    (received,) = sink.wait_for(1)  # still the MX route
    assert b"old" in received.data and second_sink.snapshot() == []
    assert 429 not in unauthenticated_statuses(server, 5)

    server.config.write_text("[delivery\nnot toml")
    assert "level=error" in hangup(server, "event=config_reload_failed")
    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200


def test_a_restart_only_key_is_named_and_keeps_its_running_value(
    server: ScaisendServer, tmp_path: Path
) -> None:
    rewrite(
        server,
        http={
            "listen": f"127.0.0.1:{free_port()}",
            "rate_limit_per_second": 0.1,
            "rate_limit_burst": 3,
        },
        smtp={"hostname": "other.scaisend.test"},
        storage={"data_dir": str(tmp_path / "elsewhere")},
    )
    before = server.log().count("event=config_reloaded")
    warning = hangup(server, "event=config_restart_needed")
    assert "level=warning" in warning
    assert "keys=http.listen,smtp.hostname,storage.data_dir" in warning
    applied = wait_line(server, "event=config_reloaded", before)
    assert applied.endswith(" applied=http.rate_limit_per_second,http.rate_limit_burst")

    assert httpx.get(f"{server.base_url}/healthz", timeout=10).status_code == 200
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
        code, greeting = client.ehlo("client.test")
        assert code == 250 and greeting.startswith(b"mx.scaisend.test")
    assert not (tmp_path / "elsewhere").exists()
    assert unauthenticated_statuses(server, 4)[-1] == 429  # the reloadable keys did apply
