"""Outbound TLS policies against a real MX sink: verify accepts a certificate from the
configured CA and records the TLS version and cipher, refuses one it cannot verify; require
never falls back to plaintext; opportunistic delivers in the clear when STARTTLS is absent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import account_with_key, send, wait_for_status
from tests.support.certs import make_ca_and_leaf
from tests.support.dns_server import DnsServer
from tests.support.servers import SINK_HOST, ServerFactory, mx_sink
from tests.support.sink import SmtpSink


@pytest.fixture
def ca_sink(tmp_path: Path) -> Iterator[tuple[SmtpSink, Path]]:
    ca, leaf, key = make_ca_and_leaf(tmp_path, "mx.example.com")
    sink = mx_sink(tmp_path, cert=(leaf, key))
    yield sink, ca
    sink.stop()


@pytest.fixture
def plain_sink(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = mx_sink(tmp_path, starttls=False)
    yield sink
    sink.stop()


def test_verify_accepts_a_certificate_from_the_configured_ca(
    make_server: ServerFactory, dns_server: DnsServer, ca_sink: tuple[SmtpSink, Path]
) -> None:
    sink, ca = ca_sink
    server = make_server(
        {"delivery": {"tls_policy": "verify", "tls_ca_file": str(ca)}},
        smtp_port=sink.controller.port,
    )
    try:
        _, key = account_with_key(server, dns_server)
        message = wait_for_status(server, key, send(server, key, "ada@example.com"), "delivered")
    finally:
        server.stop()
    delivered = message["events"][-1]["data"]
    assert delivered["tls"] is True and delivered["tls_version"].startswith("TLSv1.")
    assert delivered["tls_cipher"]
    assert delivered["ip"] == "127.0.0.1"  # the address we sent from, as SendGrid's `ip`
    assert sink.wait_for(1)[0].tls is True


def test_verify_defers_when_the_certificate_cannot_be_verified(
    make_server: ServerFactory, dns_server: DnsServer, sink: SmtpSink
) -> None:
    server = make_server({"delivery": {"destinations": {"example.com": {"tls_policy": "verify"}}}})
    try:
        _, key = account_with_key(server, dns_server)
        message = wait_for_status(server, key, send(server, key, "ada@example.com"), "deferred")
    finally:
        server.stop()
    deferred = message["events"][-1]["data"]
    assert deferred["status"] == "4.7.5" and "certificate" in deferred["response"]
    assert sink.snapshot() == []


def test_require_never_falls_back_to_plaintext(
    make_server: ServerFactory, dns_server: DnsServer, plain_sink: SmtpSink
) -> None:
    server = make_server(
        {"delivery": {"tls_policy": "require"}}, smtp_port=plain_sink.controller.port
    )
    try:
        _, key = account_with_key(server, dns_server)
        message = wait_for_status(server, key, send(server, key, "ada@example.com"), "deferred")
    finally:
        server.stop()
    assert message["events"][-1]["data"]["status"] == "4.7.10"
    assert plain_sink.snapshot() == []


def test_opportunistic_delivers_in_the_clear_without_starttls(
    make_server: ServerFactory, dns_server: DnsServer, plain_sink: SmtpSink
) -> None:
    server = make_server({"delivery": {}}, smtp_port=plain_sink.controller.port)
    try:
        _, key = account_with_key(server, dns_server)
        message = wait_for_status(server, key, send(server, key, "ada@example.com"), "delivered")
    finally:
        server.stop()
    assert message["events"][-1]["data"]["tls"] is False
    assert plain_sink.wait_for(1)[0].tls is False


@pytest.fixture
def smarthost(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = mx_sink(tmp_path, auth=("relay-user", "s3cret"))
    yield sink
    sink.stop()


@pytest.mark.parametrize(("password", "delivered"), [("s3cret", True), ("wrong", False)])
def test_a_smarthost_gets_auth_over_tls(
    make_server: ServerFactory,
    dns_server: DnsServer,
    smarthost: SmtpSink,
    password: str,
    delivered: bool,
) -> None:
    hop = f"{SINK_HOST}:{smarthost.controller.port}"
    route_auth = {hop: {"username": "relay-user", "password": password}}
    server = make_server(
        {"delivery": {"routes": {"*": hop}, "route_auth": route_auth}},
        smtp_port=smarthost.controller.port,
    )
    try:
        _, key = account_with_key(server, dns_server)
        status = "delivered" if delivered else "deferred"
        message = wait_for_status(server, key, send(server, key, "ada@example.com"), status)
    finally:
        server.stop()
    last = message["events"][-1]["data"]
    if delivered:
        assert smarthost.logins == ["relay-user"] and last["tls"] is True
        assert [m.rcpt_tos for m in smarthost.snapshot()] == [["ada@example.com"]]
    else:
        assert last["status"] == "4.7.0" and "credentials" in last["response"]
        assert smarthost.snapshot() == []
