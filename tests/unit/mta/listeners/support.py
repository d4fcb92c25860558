"""Fakes at the ingress Protocol seams and a helper running all three listeners on loopback.

The fakes record every call so tests can assert on exactly what the listeners handed over.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib

from config.settings import SmtpSettings
from mta.core.errors import AuthenticationError
from mta.core.model import SessionTrace
from mta.listeners.servers import bound_port, close_listeners, start_listeners
from mta.listeners.tls import ensure_certificate, server_context
from mta.services.identity import Principal

HOSTNAME = "mail.test.example"
GOOD_KEY = "SG.good-key"
READ_ONLY_KEY = "SG.read-only-key"
SENDER = Principal(
    account_id="acct-1", kind="api_key", subject="key-1", scopes=frozenset({"mail.send"})
)
READER = Principal(
    account_id="acct-1", kind="api_key", subject="key-2", scopes=frozenset({"stats.read"})
)


@dataclass
class FakeKeys:
    keys: dict[str, Principal] = field(
        default_factory=lambda: {GOOD_KEY: SENDER, READ_ONLY_KEY: READER}
    )
    seen: list[str] = field(default_factory=list)

    async def authenticate(self, raw_key: str) -> Principal:
        self.seen.append(raw_key)
        try:
            return self.keys[raw_key]
        except KeyError:
            raise AuthenticationError("unknown key") from None


@dataclass
class FakeIntake:
    calls: list[tuple[Principal, str, list[str], bytes]] = field(default_factory=list)
    traces: list[SessionTrace] = field(default_factory=list)
    error: Exception | None = None
    message_id: str = "msg-0001"

    async def submit_smtp(
        self,
        principal: Principal,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        trace: SessionTrace,
    ) -> str:
        self.calls.append((principal, mail_from, rcpt_tos, data))
        self.traces.append(trace)
        if self.error is not None:
            raise self.error
        return self.message_id


@dataclass
class FakeInbound:
    domains: set[str] = field(default_factory=lambda: {"accepted.example"})
    asked: list[str] = field(default_factory=list)
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def accepts_domain(self, domain: str) -> bool:
        self.asked.append(domain)
        return domain in self.domains

    async def receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str = ""
    ) -> None:
        self.received.append((mail_from, rcpt_tos, data))


@dataclass
class Ingress:
    submission_port: int
    smtps_port: int
    mx_port: int
    intake: FakeIntake
    keys: FakeKeys
    inbound: FakeInbound


def make_tls(directory: Path) -> ssl.SSLContext:
    cert, key = directory / "cert.pem", directory / "key.pem"
    ensure_certificate(cert, key, HOSTNAME)
    return server_context(cert, key)


def loopback_settings(**overrides: object) -> SmtpSettings:
    settings = SmtpSettings(hostname=HOSTNAME, **overrides)  # type: ignore[arg-type]
    # Port 0 does not pass the settings validation, so set the addresses afterwards.
    settings.submission_listen = "127.0.0.1:0"
    settings.smtps_listen = "127.0.0.1:0"
    settings.mx_listen = "127.0.0.1:0"
    return settings


@asynccontextmanager
async def running_ingress(tls: ssl.SSLContext, **overrides: object) -> AsyncIterator[Ingress]:
    intake, keys, inbound = FakeIntake(), FakeKeys(), FakeInbound()
    settings = loopback_settings(**overrides)
    servers = await start_listeners(settings, tls, intake, keys, inbound)
    try:
        submission, smtps, mx = (bound_port(server) for server in servers)
        yield Ingress(submission, smtps, mx, intake=intake, keys=keys, inbound=inbound)
    finally:
        await close_listeners(servers)


@asynccontextmanager
async def client(port: int, **options: object) -> AsyncIterator[aiosmtplib.SMTP]:
    """A connected aiosmtplib client that has sent EHLO (again after STARTTLS)."""
    options.setdefault("timeout", 5)
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1",
        port=port,
        validate_certs=False,
        local_hostname="client.test.example",
        **options,  # type: ignore[arg-type]
    )
    async with smtp:
        await smtp.ehlo()
        yield smtp
