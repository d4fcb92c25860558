"""An SMTP sink that plays a recipient's MX on loopback: a real aiosmtpd server in a thread,
offering STARTTLS, recording every transaction."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mta.listeners.tls import ensure_certificate, server_context


class Received(msgspec.Struct):
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


class _Recorder:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() in self._sink.reject:
            return self._sink.reject[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self._sink.add(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), data, session.ssl is not None
            )
        )
        return "250 2.0.0 Ok: queued at sink"


class SmtpSink:
    def __init__(
        self,
        host: str,
        port: int,
        cert_dir: Path,
        *,
        starttls: bool = True,
        cert: tuple[Path, Path] | None = None,
        auth: tuple[str, str] | None = None,
        smtputf8: bool = False,
    ) -> None:
        """Offers STARTTLS with `cert` (certificate, key) or a self-signed pair; with `auth`
        (user, password) it requires AUTH after TLS, as a smarthost does."""
        if cert is None:
            cert = (cert_dir / "sink.pem", cert_dir / "sink.key")
            ensure_certificate(cert[0], cert[1], "mx.example.com")
        self.tls: ssl.SSLContext | None = server_context(*cert) if starttls else None
        self.smtputf8 = smtputf8
        self.messages: list[Received] = []
        self.reject: dict[str, str] = {}
        self.logins: list[str] = []
        self._lock = threading.Lock()
        options: dict[str, Any] = {}
        if auth is not None:
            options = {
                "authenticator": self._authenticator(auth),
                "auth_required": True,
                "auth_require_tls": True,
            }
        self.controller = Controller(
            _Recorder(self),
            hostname=host,
            port=port,
            tls_context=self.tls,
            require_starttls=False,
            decode_data=False,
            enable_SMTPUTF8=smtputf8,
            ready_timeout=10,
            **options,
        )

    def _authenticator(self, expected: tuple[str, str]) -> Any:
        def check(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            given = (data.login.decode(), data.password.decode())
            if given == expected:
                self.logins.append(given[0])
            return AuthResult(success=given == expected, handled=False)

        return check

    def add(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"sink got {len(self.messages)} messages, expected {count}")

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.messages)

    def tally(self, pattern: re.Pattern[bytes]) -> Counter[str]:
        """How many received messages carry each value of `pattern`'s first group (a
        subject tag, say): duplicates show as counts above 1."""
        found: Counter[str] = Counter()
        for message in self.snapshot():
            match = pattern.search(message.data)
            if match:
                found[match.group(1).decode()] += 1
        return found
