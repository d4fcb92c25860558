"""The self-signed certificate bootstrap and the server TLS context."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

from cryptography import x509

from mta.listeners.tls import ensure_certificate, server_context


def test_creates_a_ten_year_certificate_for_the_hostname(tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    ensure_certificate(cert_path, key_path, "mail.example.com")
    assert key_path.stat().st_mode & 0o777 == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["mail.example.com"]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime >= datetime.timedelta(days=3650)


def test_ip_hostname_gets_an_ip_san(tmp_path: Path) -> None:
    ensure_certificate(tmp_path / "c.pem", tmp_path / "k.pem", "127.0.0.1")
    cert = x509.load_pem_x509_certificate((tmp_path / "c.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_existing_pair_is_kept_and_a_lone_file_is_replaced(tmp_path: Path) -> None:
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    ensure_certificate(cert_path, key_path, "a.example")
    first = cert_path.read_bytes()
    ensure_certificate(cert_path, key_path, "b.example")
    assert cert_path.read_bytes() == first
    key_path.unlink()
    ensure_certificate(cert_path, key_path, "b.example")
    assert cert_path.read_bytes() != first
    assert key_path.stat().st_mode & 0o777 == 0o600
    server_context(cert_path, key_path)  # the new pair matches


def test_server_context_requires_tls12(tmp_path: Path) -> None:
    ensure_certificate(tmp_path / "c.pem", tmp_path / "k.pem", "mail.example.com")
    context = server_context(tmp_path / "c.pem", tmp_path / "k.pem")
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
