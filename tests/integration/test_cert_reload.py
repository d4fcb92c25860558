"""SIGHUP reloads `[smtp] tls_cert` / `tls_key` in a running `scaisend serve`: new handshakes
on every port get the new certificate, a session opened before still finishes its mail."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import ssl
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.api import account_with_key
from tests.support.certs import make_ca_and_leaf
from tests.support.dns_server import DnsServer
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink

HOSTNAME = "mx.scaisend.test"


class Certs:
    """Certificate pairs A and B, and the two files the server is configured with."""

    def __init__(self, root: Path) -> None:
        self.a = self._pair(root / "cert-a")
        self.b = self._pair(root / "cert-b")
        (root / "tls").mkdir()
        self.cert, self.key = root / "tls" / "cert.pem", root / "tls" / "key.pem"
        self.install(*self.a)

    @staticmethod
    def _pair(directory: Path) -> tuple[Path, Path]:
        directory.mkdir()
        _, cert, key = make_ca_and_leaf(directory, HOSTNAME)
        return cert, key

    def install(self, cert: Path, key: Path) -> None:
        """Replace the live files the way a renewal tool does: write beside, rename over."""
        for source, target in ((cert, self.cert), (key, self.key)):
            temporary = target.with_name(target.name + ".new")
            shutil.copy(source, temporary)
            os.replace(temporary, target)


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def peer_certificate(client: smtplib.SMTP) -> bytes:
    sock = client.sock
    assert isinstance(sock, ssl.SSLSocket)
    peer = sock.getpeercert(binary_form=True)
    assert peer is not None
    return peer


def starttls_peer(port: int) -> bytes:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.starttls(context=insecure_tls())
        client.ehlo("client.test")
        return peer_certificate(client)


def ports_peers(server: ScaisendServer) -> list[bytes]:
    """The certificate a new connection sees on 587 (STARTTLS), 465 and 25 (STARTTLS)."""
    with smtplib.SMTP_SSL("127.0.0.1", server.smtps_port, timeout=30, context=insecure_tls()) as c:
        implicit = peer_certificate(c)
    return [starttls_peer(server.submission_port), implicit, starttls_peer(server.mx_port)]


def hangup(server: ScaisendServer, event: str) -> None:
    """SIGHUP, then wait for the server's log line `event` (one more than before)."""
    before = server.log().count(event)
    assert server.process is not None
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while server.log().count(event) <= before:
        assert server.process.poll() is None, server.log()[-3000:]
        assert time.monotonic() < deadline, f"no {event} in log: {server.log()[-3000:]}"
        time.sleep(0.05)
    assert server.process.poll() is None


def message(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Acme <hello@mail.example.com>"
    msg["To"] = "ada@example.com"
    msg["Subject"] = subject
    msg.set_content("Sent across a certificate reload.\n")
    return msg


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return Certs(tmp_path)


@pytest.fixture
def server(make_server: ServerFactory, certs: Certs) -> ScaisendServer:
    return make_server({"smtp": {"tls_cert": str(certs.cert), "tls_key": str(certs.key)}})


def test_sighup_serves_the_new_certificate_and_keeps_open_sessions(
    server: ScaisendServer, certs: Certs, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(server, dns_server)
    assert ports_peers(server) == [der(certs.a[0])] * 3
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as old:
        old.starttls(context=insecure_tls())
        old.ehlo("client.test")
        old.login("apikey", key)
        assert peer_certificate(old) == der(certs.a[0])

        certs.install(*certs.b)
        hangup(server, "event=tls_reloaded")
        assert ports_peers(server) == [der(certs.b[0])] * 3

        assert old.noop()[0] == 250
        assert old.send_message(message("across the reload")) == {}
        assert peer_certificate(old) == der(certs.a[0])
        assert old.quit()[0] == 221
    (received,) = sink.wait_for(1)
    assert b"across the reload" in received.data
    assert f"cert={certs.cert}" in server.log()


@pytest.mark.parametrize("damage", ["mismatched_key", "garbage_cert", "missing_key"])
def test_a_bad_file_keeps_the_old_certificate(
    server: ScaisendServer, certs: Certs, damage: str
) -> None:
    if damage == "mismatched_key":
        certs.install(certs.b[0], certs.a[1])  # B's certificate, A's key
    elif damage == "garbage_cert":
        certs.cert.write_text("-----BEGIN CERTIFICATE-----\ntruncated\n")
    else:
        certs.key.unlink()
    hangup(server, "event=tls_reload_failed")
    assert ports_peers(server) == [der(certs.a[0])] * 3
    assert "level=error" in next(
        line for line in server.log().splitlines() if "event=tls_reload_failed" in line
    )

    certs.install(*certs.b)  # fixed files load on the next SIGHUP
    hangup(server, "event=tls_reloaded")
    assert ports_peers(server) == [der(certs.b[0])] * 3


def test_sighup_with_the_self_signed_default_changes_nothing(scaisend: ScaisendServer) -> None:
    before = ports_peers(scaisend)
    hangup(scaisend, "event=tls_reload_skipped")
    assert ports_peers(scaisend) == before
    assert "reason=no_tls_cert_configured" in scaisend.log()
