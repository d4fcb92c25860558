"""Fixtures shared by the suite (a loopback DNS server, an SMTP sink playing the recipients'
MX on 127.0.0.2, a webhook receiver, a database, and `scaisend serve` processes wired to
them) and the test tiers: the markers `integration`, `postgresql` and `slow`, set here."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import KINDS, Backend, Database, backend
from tests.support.dns_server import DnsServer
from tests.support.postgres import postgres_cluster  # noqa: F401  (a session fixture)
from tests.support.server import ScaisendServer
from tests.support.servers import (
    DEAD_NAMESERVER,
    ServerFactory,
    mx_sink,
    nameserver_of,
    recipients_dns,
)
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver

# The project's shared folder (tutorial, corpus, references) sits beside the checkout; CI
# lays it there too. SCAISEND_SHARED_DIR points elsewhere for a clone made in another place.
SHARED = Path(
    os.environ.get("SCAISEND_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
)
INTEGRATION = Path(__file__).resolve().parent / "integration"

# Every unit test that touches a database runs on both kinds. An integration scenario runs
# on PostgreSQL too only where the database is its subject: SQL that differs by dialect
# (message queries, stats by day, suppression look-ups, NUL in text), several processes
# or nodes on one database (workers; two nodes and the PostgreSQL server need no entry,
# they ask for the cluster itself), outbox claims and leases across a restart (webhooks),
# and the message log rewritten from the spool at start. The others test SMTP, MIME, TLS,
# signing and the process, which the database under them does not change.
BOTH_DATABASES = frozenset(
    {
        "test_http_edges.py",
        "test_log_repair.py",
        "test_messages_api.py",
        "test_stats_api.py",
        "test_suppressions_api.py",
        "test_webhooks_restart.py",
        "test_workers.py",
    }
)
# The longest tests (pytest --durations=40, 15 to 30 s each): `-m "not slow"` leaves them out.
SLOW = frozenset(
    {
        "test_crash_recovery.py::test_acknowledged_mail_survives_sigkill",
        "test_postgresql_server.py::test_serve_on_postgresql",
        "test_queue_control.py::test_operators_steer_the_queue",
        "test_scheduled_sends.py::test_a_scheduled_send_survives_a_kill_and_is_delivered_after_restart",
        "test_schemathesis.py::test_the_api_keeps_to_its_openapi_document",
        "test_two_nodes.py::test_two_nodes_behave_as_one_service",
        "test_workers.py::test_two_workers_serve_as_one",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" not in metafunc.fixturenames:
        return
    path = metafunc.definition.path
    both = INTEGRATION not in path.parents or path.name in BOTH_DATABASES
    kinds = KINDS if both else KINDS[:1]
    metafunc.parametrize("db_backend", kinds, indirect=True, scope="module")


@pytest.hookimpl(tryfirst=True)  # the groups must be marked before xdist reads them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouping = config.pluginmanager.has_plugin("xdist")
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.integration)
        fixtures = getattr(item, "fixturenames", ())
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("db_backend") if callspec is not None else None
        if kind == KINDS[1] or "postgres_cluster" in fixtures:
            item.add_marker(pytest.mark.postgresql)
        if f"{item.path.name}::{getattr(item, 'originalname', item.name)}" in SLOW:
            item.add_marker(pytest.mark.slow)
        if grouping and "make_module_server" in fixtures:  # --dist loadgroup: on one worker
            group = item.path.stem if kind is None else f"{item.path.stem}-{kind}"
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def dns_server() -> Iterator[DnsServer]:
    server = recipients_dns()
    yield server
    server.stop()


@pytest.fixture
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmtpSink]:
    """Options for SmtpSink may come by indirect parametrization: {"smtputf8": True}."""
    sink = mx_sink(tmp_path, **getattr(request, "param", {}))
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def db_backend(request: pytest.FixtureRequest) -> Backend:
    """The database kind (ids `sqlite`, `postgresql`; `-k sqlite` runs one), parametrized by
    pytest_generate_tests above. Module-scoped servers take a fresh database from this."""
    return backend(request)


@pytest.fixture
def database(db_backend: Backend) -> Iterator[Database]:
    """A fresh database for this test: give `database.url` to ScaisendServer, or make an
    engine on `database.engine_url(tmp_path)`."""
    with db_backend.fresh() as fresh:
        yield fresh


@pytest.fixture
def make_server(
    tmp_path: Path, dns_server: DnsServer, sink: SmtpSink, database: Database
) -> Iterator[ServerFactory]:
    """`make_server(extra)` starts a server of this test's world (see ServerFactory for what
    a call may change); every server it made is stopped when the test ends."""
    factory = ServerFactory(
        tmp_path,
        nameserver=nameserver_of(dns_server),
        smtp_port=sink.controller.port,
        database_url=database.url,
    )
    yield factory
    factory.stop_all()


@pytest.fixture
def scaisend(make_server: ServerFactory) -> ScaisendServer:
    """A server with the default configuration."""
    return make_server()


@pytest.fixture(scope="module")
def make_module_server(
    tmp_path_factory: pytest.TempPathFactory, db_backend: Backend
) -> Iterator[Callable[..., ScaisendServer]]:
    """`make_module_server(extra)` starts a server the module's tests share, on a fresh
    database of its own. It delivers nowhere and resolves nothing unless given
    `nameserver` and `smtp_port`; every one made is stopped when the module ends."""
    with contextlib.ExitStack() as made:

        def make(
            extra: dict[str, dict[str, Any]] | None = None,
            *,
            nameserver: str = DEAD_NAMESERVER,
            smtp_port: int = 9,
        ) -> ScaisendServer:
            database = made.enter_context(db_backend.fresh())
            servers = ServerFactory(
                tmp_path_factory.mktemp("server"),
                nameserver=nameserver,
                smtp_port=smtp_port,
                database_url=database.url,
            )
            made.callback(servers.stop_all)
            return servers(extra)

        yield make
