"""TLS material for the SMTP listeners: a self-signed certificate when none is configured,
and the server-side `ssl.SSLContext` every listener shares, whose certificate reloads live.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import logging
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)
VALIDITY = datetime.timedelta(days=3650)


def ensure_certificate(cert_path: Path, key_path: Path, hostname: str) -> None:
    """Create a self-signed RSA-2048 certificate and key for `hostname` unless both files exist.

    If only one of the two exists, both are replaced (a lone key or certificate is useless).
    """
    if cert_path.exists() and key_path.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = _self_signed(key, hostname).public_bytes(serialization.Encoding.PEM)
    _write_atomically(key_path, key_pem, mode=0o600)
    _write_atomically(cert_path, cert_pem, mode=0o600)


def server_context(cert_path: Path, key_path: Path) -> ssl.SSLContext:
    """A server-side context (TLS 1.2 or newer) that does not ask clients for certificates."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # An encrypted key fails at once instead of prompting on a terminal (and blocking the loop).
    context.load_cert_chain(certfile=cert_path, keyfile=key_path, password=_no_password)
    return context


class CertificateStore:
    """The context every listener keeps for its whole life, and the certificate behind it.

    `reload()` loads the files into a brand-new context; the listeners' context has an SNI
    callback, which OpenSSL calls on every handshake (with or without SNI), that moves each new
    connection onto the newest good context. Sessions already established keep theirs. A failed
    load leaves the previous certificate in service: nothing is loaded into a live context.
    """

    def __init__(self, cert_path: Path, key_path: Path, *, reloadable: bool = True) -> None:
        self.cert_path, self.key_path = cert_path, key_path
        self.reloadable = reloadable  # False for the self-signed default: nothing to reload
        self.context = server_context(cert_path, key_path)
        self.context.sni_callback = self._select
        self._current = self.context

    def _select(
        self,
        connection: ssl.SSLSocket | ssl.SSLObject,
        server_name: str | None,
        context: ssl.SSLContext,
    ) -> None:
        if context is not self._current:
            connection.context = self._current

    def reload(self) -> bool:
        """Serve the files' current certificate to new connections; False (and an error
        line) if they do not load, or if this is the self-signed default."""
        if not self.reloadable:
            log.info("event=tls_reload_skipped reason=no_tls_cert_configured")
            return False
        try:
            fresh = server_context(self.cert_path, self.key_path)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            log.error(
                "event=tls_reload_failed cert=%s key=%s error=%r kept=previous",
                self.cert_path,
                self.key_path,
                str(exc),
            )
            return False
        self._current = fresh
        log.info("event=tls_reloaded cert=%s %s", self.cert_path, describe(self.cert_path))
        return True


def describe(cert_path: Path) -> str:
    """`subject=… not_after=… sha256=…` of the first certificate in a PEM file, for logs."""
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return "subject=unknown"
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return (
        f"subject={cert.subject.rfc4514_string()!r} "
        f"not_after={cert.not_valid_after_utc.isoformat()} sha256={fingerprint}"
    )


def _no_password() -> bytes:
    return b""


def _self_signed(key: rsa.RSAPrivateKey, hostname: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_san(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _san(hostname: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(hostname))
    except ValueError:
        return x509.DNSName(hostname)


def _write_atomically(path: Path, content: bytes, *, mode: int) -> None:
    """Write to a sibling temporary file created with `mode`, then rename over `path`."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is filtered by the umask and ignored if it exists
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
