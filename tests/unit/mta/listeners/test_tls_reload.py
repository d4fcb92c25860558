"""CertificateStore: a reload serves the new certificate to new handshakes only, and a file
that does not load (missing, mismatched key, encrypted key) keeps the old one in service."""

from __future__ import annotations

import asyncio
import logging
import shutil
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mta.listeners.tls import CertificateStore, ensure_certificate
from tests.support.certs import make_ca_and_leaf


def pair(directory: Path) -> tuple[Path, Path]:
    directory.mkdir()
    _, cert, key = make_ca_and_leaf(directory, "mx.scaisend.test")
    return cert, key


def der(cert: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(cert.read_text())


def client() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client())
    peer = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    return reader, writer, peer


@pytest.fixture
def live(tmp_path: Path) -> tuple[Path, Path, Path, Path]:
    """(cert, key) in service at tmp/live, and a second pair B beside them."""
    a_cert, a_key = pair(tmp_path / "a")
    b_cert, b_key = pair(tmp_path / "b")
    (tmp_path / "live").mkdir()
    cert, key = tmp_path / "live" / "cert.pem", tmp_path / "live" / "key.pem"
    shutil.copy(a_cert, cert)
    shutil.copy(a_key, key)
    return cert, key, b_cert, b_key


async def test_new_handshakes_get_the_new_certificate_old_sessions_continue(
    live: tuple[Path, Path, Path, Path],
) -> None:
    cert, key, b_cert, b_key = live
    a_der = der(cert)
    store = CertificateStore(cert, key)
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=store.context)
    port = server.sockets[0].getsockname()[1]
    old_reader, old_writer, first = await connect(port)
    shutil.copy(b_cert, cert)
    shutil.copy(b_key, key)
    assert store.reload() is True
    _, writer, second = await connect(port)
    assert (first, second) == (a_der, der(b_cert))
    old_writer.write(b"still here\n")
    assert await asyncio.wait_for(old_reader.readline(), 5) == b"still here\n"
    for w in (old_writer, writer):
        w.close()
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("damage", ["missing", "mismatched", "garbage", "encrypted"])
async def test_a_bad_file_keeps_the_old_certificate(
    live: tuple[Path, Path, Path, Path], damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key, b_cert, b_key = live
    a_der = der(cert)
    store = CertificateStore(cert, key)
    if damage == "missing":
        key.unlink()
    elif damage == "mismatched":
        shutil.copy(b_cert, cert)  # B's certificate with A's key
    elif damage == "garbage":
        cert.write_text("not a certificate\n")
    else:
        private = serialization.load_pem_private_key(b_key.read_bytes(), None)
        key.write_bytes(
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"secret"),
            )
        )
        shutil.copy(b_cert, cert)
    with caplog.at_level(logging.INFO, logger="mta.listeners.tls"):
        assert store.reload() is False
    assert [r.levelno for r in caplog.records] == [logging.ERROR]
    assert "event=tls_reload_failed" in caplog.records[0].getMessage()
    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=store.context)
    _, writer, peer = await connect(server.sockets[0].getsockname()[1])
    assert peer == a_der
    writer.close()
    server.close()
    await server.wait_closed()


def test_self_signed_default_has_nothing_to_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert, key, "mx.scaisend.test")
    store = CertificateStore(cert, key, reloadable=False)
    with caplog.at_level(logging.INFO, logger="mta.listeners.tls"):
        assert store.reload() is False
    assert [r.getMessage() for r in caplog.records] == [
        "event=tls_reload_skipped reason=no_tls_cert_configured"
    ]


def test_successful_reload_logs_the_new_certificate(
    live: tuple[Path, Path, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    cert, key, b_cert, b_key = live
    store = CertificateStore(cert, key)
    shutil.copy(b_cert, cert)
    shutil.copy(b_key, key)
    with caplog.at_level(logging.INFO, logger="mta.listeners.tls"):
        assert store.reload() is True
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"event=tls_reloaded cert={cert} subject='CN=mx.scaisend.test'")
    assert "sha256=" in line
