"""The one way the integration tests make their world: a loopback DNS server naming the
recipients' MX, an SMTP sink playing that MX on SINK_HOST, and `scaisend serve` processes
wired to them and to a database, all stopped together when their test or module ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer, free_port
from tests.support.sink import SmtpSink

SINK_HOST = "127.0.0.2"  # the recipients' MX: example.com's MX record points here
DEAD_NAMESERVER = "127.0.0.1:9"  # for servers that deliver nothing: every look-up fails


def recipients_dns() -> DnsServer:
    """A started DNS server on loopback whose example.com MX is the sink's address."""
    server = DnsServer("127.0.0.1", 0)
    server.start()
    server.add("example.com", "MX", "10 mx.example.com.")
    server.add("mx.example.com", "A", SINK_HOST)
    return server


def nameserver_of(dns: DnsServer) -> str:
    host, port = dns.address
    return f"{host}:{port}"


def mx_sink(cert_dir: Path, **options: Any) -> SmtpSink:
    """A started SMTP sink on SINK_HOST (SmtpSink's `options`: starttls, cert, auth...)."""
    return SmtpSink(SINK_HOST, free_port(SINK_HOST), cert_dir, **options).start()


class ServerFactory:
    """Makes ScaisendServers that resolve through `nameserver`, deliver to `smtp_port` (or
    the port a call names) and keep their metadata at `database_url` ("" is SQLite). The
    first lives in `workdir` itself, later ones in folders of it; `stop_all` at the end."""

    def __init__(
        self, workdir: Path, *, nameserver: str, smtp_port: int, database_url: str
    ) -> None:
        self.workdir, self.nameserver = workdir, nameserver
        self.smtp_port, self.database_url = smtp_port, database_url
        self.made: list[ScaisendServer] = []

    def __call__(
        self,
        extra: dict[str, dict[str, Any]] | None = None,
        *,
        workdir: Path | None = None,
        smtp_port: int | None = None,
        start: bool = True,
    ) -> ScaisendServer:
        """A server with `extra` config sections; started unless `start` is False."""
        if workdir is None:
            workdir = self.workdir / f"server{len(self.made)}" if self.made else self.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        server = ScaisendServer(
            workdir,
            nameserver=self.nameserver,
            smtp_port=self.smtp_port if smtp_port is None else smtp_port,
            extra=extra,
            database_url=self.database_url,
        )
        self.made.append(server)
        return server.start() if start else server

    def stop_all(self) -> None:
        for server in reversed(self.made):
            server.stop()
            server.http.close()
