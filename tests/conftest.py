"""Fixtures shared by the suite: a loopback DNS server, an SMTP sink playing the recipients'
MX on 127.0.0.2, a webhook receiver, and a real `scaisend serve` process wired to them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import KINDS, Backend, Database, backend
from tests.support.dns_server import DnsServer
from tests.support.postgres import postgres_cluster  # noqa: F401  (a session fixture)
from tests.support.server import ScaisendServer, free_port
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver

SINK_HOST = "127.0.0.2"
# The project's shared folder (tutorial, corpus, references) sits beside the checkout; CI
# lays it there too. SCAISEND_SHARED_DIR points elsewhere for a clone made in another place.
SHARED = Path(
    os.environ.get("SCAISEND_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
)


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = DnsServer("127.0.0.1", 0)
    server.start()
    server.add("example.com", "MX", "10 mx.example.com.")
    server.add("mx.example.com", "A", SINK_HOST)
    yield server
    server.stop()


@pytest.fixture
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmtpSink]:
    """Options for SmtpSink may come by indirect parametrization: {"smtputf8": True}."""
    options = getattr(request, "param", {})
    sink = SmtpSink(SINK_HOST, free_port(SINK_HOST), tmp_path, **options).start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module", params=KINDS)
def db_backend(request: pytest.FixtureRequest) -> Backend:
    """Every test that touches a database runs on each kind (ids `sqlite`, `postgresql`;
    `-k sqlite` runs one). Module-scoped servers take a fresh database from this."""
    return backend(request)


@pytest.fixture
def database(db_backend: Backend) -> Iterator[Database]:
    """A fresh database for this test: give `database.url` to ScaisendServer, or make an
    engine on `database.engine_url(tmp_path)`."""
    with db_backend.fresh() as fresh:
        yield fresh


@pytest.fixture
def scaisend(
    tmp_path: Path, dns_server: DnsServer, sink: SmtpSink, database: Database
) -> Iterator[ScaisendServer]:
    host, port = dns_server.address
    server = ScaisendServer(
        tmp_path,
        nameserver=f"{host}:{port}",
        smtp_port=sink.controller.port,
        database_url=database.url,
    ).start()
    yield server
    server.stop()
