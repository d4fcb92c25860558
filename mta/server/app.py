"""The composition root: builds settings, engine, spool, resolver and services, and starts
and stops every part in order (database, spool recovery, workers, SMTP, HTTP)."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from config.settings import Settings, SmtpSettings, parse_hostport
from control.app import create_asgi
from control.fanout import fan_out
from control.services import Services
from mta.core.dns import DnsResolver, Resolver
from mta.core.metrics import Metrics, Readiness
from mta.db.engine import create_schema, database_url, make_engine, make_sessionmaker
from mta.delivery.client import AiosmtplibConnector
from mta.delivery.deliverer import Deliverer
from mta.events.bus import EventBus
from mta.events.retention import Retention, RetentionPolicy
from mta.events.stats import MessageActivitySink, StatsSink
from mta.inbound_mail.service import InboundService
from mta.inbound_mail.unsubscribe import UnsubscribeMail
from mta.listeners.servers import ListenerControls, start_listeners
from mta.listeners.tls import CertificateStore, ensure_certificate
from mta.scheduler.queue_admin import QueueControl
from mta.scheduler.scheduler import Scheduler
from mta.server.logs import apply_log_settings
from mta.server.notify import Notifier
from mta.server.reload import ConfigPath, HttpEdge, log_change, read_settings
from mta.server.runtime import EmbeddedUvicorn, drain_smtp_sessions, listen_socket, unix_sockets
from mta.server.workers import layout
from mta.services.accounts import AccountService
from mta.services.api_keys import ApiKeyService
from mta.services.asm_groups import AsmGroupService
from mta.services.batches import BatchService
from mta.services.domains import DomainService
from mta.services.identity import Principal, TokenService
from mta.services.messages import MessageService
from mta.services.stats import StatsService
from mta.services.suppression_sink import SuppressionSink
from mta.services.suppressions import SuppressionService
from mta.services.templates import TemplateService
from mta.submission.log_repair import LogRepair
from mta.submission.pipeline import Intake, RelaySubmitter
from mta.submission.suppression_lookup import CoalescedLookup
from mta.tracking.service import TrackingService, make_tracker
from mta.webhooks.sender import WebhookSender
from mta.webhooks.sendgrid_settings import SendGridEventWebhook
from mta.webhooks.service import WebhookService
from queue_store import LogSpool
from queue_store.lock import SpoolLock

log = logging.getLogger(__name__)
COMPACTION_INTERVAL_SECONDS = 600.0
BATCH_SYNC_SECONDS = 30.0  # how soon a pause or cancel made on another node takes effect
SHARED_BATCH_SYNC_SECONDS = 2.0  # the same when the nodes share PostgreSQL (several nodes)


def jwt_secret(settings: Settings) -> str:
    """The configured secret, or one generated on first use and kept in data_dir."""
    if settings.auth.jwt_secret:
        return settings.auth.jwt_secret
    path = Path(settings.storage.data_dir) / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def own_listeners(settings: Settings) -> list[tuple[str, int]]:
    """Our SMTP endpoints, so that delivery can refuse to loop mail back into them."""
    smtp = settings.smtp
    listens = (smtp.submission_listen, smtp.smtps_listen, smtp.mx_listen)
    return [parse_hostport(listen) for listen in listens if listen]


def retention_policy(settings: Settings) -> RetentionPolicy:
    storage = settings.storage
    return RetentionPolicy(
        message_days=storage.message_retention_days,
        event_days=storage.event_retention_days,
        interval_seconds=storage.retention_interval_seconds,
    )


class Application:
    """Everything one `scaisend serve` process runs, on one event loop."""

    def __init__(
        self,
        settings: Settings,
        resolver: Resolver | None = None,
        *,
        config_path: ConfigPath = None,
        worker: int | None = None,
    ) -> None:
        self.settings = settings
        self.config_path = config_path  # read again on SIGHUP
        self.data_dir = Path(settings.storage.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.layout = layout(self.data_dir, settings.server.workers, worker)
        self.engine = make_engine(database_url(settings.storage.database_url, self.data_dir))
        sessions = make_sessionmaker(self.engine)
        self.metrics, self.readiness = Metrics(), Readiness()
        self.resolver = resolver or DnsResolver(settings.dns, self.metrics)
        self.spool = LogSpool(self.layout.spool)
        self.webhook_sender = WebhookSender(
            sessions, settings.webhooks, self.resolver, metrics=self.metrics
        )
        self.bus = EventBus(sessions, on_outbox=self.webhook_sender.wake, metrics=self.metrics)
        delivery = settings.delivery
        self.connector = connector = AiosmtplibConnector.from_settings(
            settings.smtp.hostname, delivery
        )
        self.scheduler = Scheduler(
            self.spool,
            Deliverer(delivery, self.resolver, connector, own_listeners=own_listeners(settings)),
            self.bus,
            delivery,
            metrics=self.metrics,
        )
        self._watch_health(sessions)
        domains = DomainService(sessions, self.resolver, settings.smtp.hostname)
        templates = TemplateService(sessions)
        batches = BatchService(sessions, self.scheduler)
        suppressions = SuppressionService(sessions)
        self.bus.add_sink(SuppressionSink())
        self.bus.add_sink(MessageActivitySink())  # message log counters
        self.bus.add_sink(StatsSink())  # daily stats aggregates
        webhooks = WebhookService(
            sessions,
            settings.webhooks.allow_private_targets,
            settings.webhooks.allowed_ports,
            on_outbox=self.webhook_sender.wake,
            oauth_tester=self.webhook_sender,
        )
        tracker = make_tracker(settings.tracking, settings.http.listen, jwt_secret(settings))
        self.services = Services(
            accounts=AccountService(sessions),
            api_keys=ApiKeyService(sessions),
            domains=domains,
            templates=templates,
            messages=MessageService(sessions),
            webhooks=webhooks,
            event_webhook=SendGridEventWebhook(sessions, webhooks),
            tokens=TokenService(jwt_secret(settings)),
            intake=Intake(
                self.spool,
                self.scheduler,
                self.bus,
                domains,
                templates,
                batches,
                CoalescedLookup(suppressions),
                tracker=tracker,
            ),
            queue=QueueControl(self.spool, self.scheduler, self.bus, self.layout.held_file),
            batches=batches,
            suppressions=suppressions,
            asm_groups=AsmGroupService(sessions),
            stats=StatsService(sessions),
            tracking=TrackingService(sessions, self.bus, tracker),
            metrics=self.metrics,
            readiness=self.readiness,
        )
        self.inbound = InboundService(
            sessions, domains, self.bus, settings.smtp.inbound_domains, self.resolver
        )
        self._smtp_servers: list[asyncio.Server] = []
        self._maintenance: asyncio.Task[None] | None = None
        self._repair: asyncio.Task[int] | None = None
        self._batch_sync: asyncio.Task[None] | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self._retention = Retention(sessions, retention_policy(settings))
        self._log_repair = LogRepair(self.spool, sessions, self.bus)
        self._http: EmbeddedUvicorn | None = None
        self._http_task: asyncio.Task[None] | None = None
        self.http_port = 0
        self.certificates: CertificateStore | None = None
        self._sighup_installed = False
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()
        self.listener_controls: ListenerControls | None = None
        self._edge: HttpEdge | None = None
        self.spool_lock = SpoolLock(self.layout.spool)
        self.notifier = Notifier.from_environ()
        self._watchdog: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.spool_lock.acquire()  # SpoolLocked: another `scaisend serve` owns this spool
        await create_schema(self.engine)
        self.bus.start()
        self.webhook_sender.start()
        recovered = self.scheduler.recover()
        await self.spool.start()
        self.readiness.mark("spool")
        await self.services.batches.start()  # paused and cancelled batches, before any send
        self.scheduler.start()
        self._follow_other_nodes()
        self._maintenance = asyncio.create_task(self._compact_spool(), name="spool-compaction")
        self._repair = asyncio.create_task(self._log_repair.run(), name="message-log-repair")
        if self.layout.primary:  # one pruner per host is enough; the others would race it
            self._retention_task = asyncio.create_task(self._retention.run(), name="retention")
        inbound = UnsubscribeMail(self.inbound, self.services.tracking)
        relay = await self._relay(self.settings.smtp)
        self.listener_controls = ListenerControls(self.settings.smtp, inbound, relay)
        self._smtp_servers = await start_listeners(
            self.settings.smtp,
            self._load_certificates().context,
            self.services.intake,
            self.services.api_keys,
            inbound,
            relay,
            metrics=self.metrics,
            controls=self.listener_controls,
            reuse_port=self.layout.reuse_port,
        )
        self.readiness.mark("smtp")
        self._install_sighup()  # before HTTP answers, so "ready" implies SIGHUP is safe
        await self._start_http()
        self.readiness.mark("http")
        log.info("event=started recovered=%d http_port=%d", recovered, self.http_port)
        self.notifier.ready()
        self._watchdog = asyncio.create_task(self.notifier.run_watchdog(), name="watchdog")

    def _follow_other_nodes(self) -> None:
        """Pauses and cancels made through other nodes (soon when they share PostgreSQL)."""
        shared = self.engine.dialect.name == "postgresql"
        if shared and not self.settings.auth.jwt_secret:  # tokens and links of one node only
            log.warning("event=jwt_secret_per_node hint=set_[auth]_jwt_secret_on_every_node")
        several = shared or self.layout.index is not None  # workers: nodes on one host
        interval = SHARED_BATCH_SYNC_SECONDS if several else BATCH_SYNC_SECONDS
        sync = self.services.batches.follow(interval)
        self._batch_sync = asyncio.create_task(sync, name="batch-sync")

    def _watch_health(self, sessions: async_sessionmaker[Any]) -> None:
        """What /metrics reads when scraped and how /readyz asks the database."""

        async def select_one() -> None:
            async with sessions() as session:
                await session.execute(text("SELECT 1"))

        self.metrics.watch_queue(self.scheduler.queue_depth)
        self.metrics.watch_webhook_backlog(self.webhook_sender.backlog)
        self.readiness.watch_database(select_one)

    async def _relay(self, smtp: SmtpSettings) -> RelaySubmitter | None:
        """The trusted-network relay, attributed to `[smtp] relay_account` (created if new)."""
        if not smtp.relay_networks:
            return None
        account = await self.services.accounts.get_or_create(smtp.relay_account)
        principal = Principal(account_id=account.id, kind="relay", subject=smtp.relay_account)
        return RelaySubmitter(self.services.intake, principal)

    async def _compact_spool(self) -> None:
        """Rewrite mostly-dead spool segments now and then, so long-deferred mail does not
        keep whole segments of delivered mail on disk."""
        while True:
            await asyncio.sleep(COMPACTION_INTERVAL_SECONDS)
            try:
                compacted = await self.spool.compact()
            except Exception:
                log.exception("event=spool_compaction_failed")
                continue
            if compacted:
                log.info("event=spool_compacted segments=%s", compacted)

    def _load_certificates(self) -> CertificateStore:
        smtp = self.settings.smtp
        cert = Path(smtp.tls_cert) if smtp.tls_cert else self.data_dir / "tls" / "cert.pem"
        key = Path(smtp.tls_key) if smtp.tls_key else self.data_dir / "tls" / "key.pem"
        if not smtp.tls_cert:
            ensure_certificate(cert, key, smtp.hostname)
        self.certificates = CertificateStore(cert, key, reloadable=bool(smtp.tls_cert))
        return self.certificates

    def reload_certificates(self) -> None:
        """SIGHUP: new TLS handshakes get `[smtp] tls_cert` as it is on disk now; sessions
        already open keep theirs; a file that does not load keeps the old certificate."""
        if self.certificates is None:
            return
        try:
            self.certificates.reload()
        except Exception:  # a signal must never take the server down
            log.exception("event=tls_reload_failed")

    def _on_sighup(self) -> None:
        task = asyncio.create_task(self.reload(), name="reload")
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def reload(self) -> None:
        """SIGHUP: certificates as on disk, then the config file read again and applied to
        what is sent and accepted from now on; nothing open is dropped, nothing here exits."""
        async with self._reload_lock:  # one reload at a time, in the order the signals came
            self.notifier.reloading()
            try:
                self.reload_certificates()
                await self._reload_settings()
            except Exception:
                log.exception("event=config_reload_failed config=%s", self.config_path or "-")
            finally:
                self.notifier.ready()

    async def _reload_settings(self) -> None:
        read = read_settings(self.config_path, self.settings)
        if read is None:
            return
        settings, change = read
        relay = await self._relay(settings.smtp)
        self.connector.apply_settings(settings.delivery)  # first: its CA bundle may not load
        apply_log_settings(settings.log.level, settings.log.format)
        self.scheduler.apply_settings(settings.delivery)
        if self.listener_controls is not None:
            self.listener_controls.apply_settings(settings.smtp, relay)
        if self._edge is not None:
            self._edge.apply_settings(settings.http)
        self.settings = settings
        log_change(self.config_path, change)

    def _install_sighup(self) -> None:
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        except (NotImplementedError, RuntimeError, ValueError) as exc:  # not the main thread
            log.warning("event=sighup_unavailable error=%r", str(exc))
            return
        self._sighup_installed = True

    def _remove_sighup(self) -> None:
        if self._sighup_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            self._sighup_installed = False

    async def _start_http(self) -> None:
        sock = listen_socket(self.settings.http.listen, self.layout.reuse_port)
        self.http_port = sock.getsockname()[1]
        app = self._edge = create_asgi(self.services, self.settings.http, self.engine)
        sockets = [sock, *unix_sockets(self.layout)]
        config = uvicorn.Config(
            fan_out(app, self.layout.peers),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="none",
            server_header=False,
            timeout_graceful_shutdown=max(1, round(self.settings.server.shutdown_grace_seconds)),
        )
        self._http = EmbeddedUvicorn(config)
        self._http_task = asyncio.create_task(self._http.serve(sockets=sockets), name="http")
        while not self._http.started and not self._http_task.done():
            await asyncio.sleep(0.01)

    def smtp_ports(self) -> list[int]:
        return [server.sockets[0].getsockname()[1] for server in self._smtp_servers]

    async def stop(self) -> None:
        """SIGTERM: stop accepting; open SMTP sessions and HTTP requests get up to `[server]
        shutdown_grace_seconds` to end; then delivery stops, the spool and the event bus
        are flushed, and the spool lock is released."""
        for part in ("smtp", "http", "spool"):
            self.readiness.mark(part, ready=False)
        self._remove_sighup()
        for server in self._smtp_servers:
            server.close()
        self.notifier.stopping()  # after close(): STOPPING=1 means no new SMTP sessions
        deadline = time.monotonic() + self.settings.server.shutdown_grace_seconds
        await asyncio.gather(self._stop_http(), self._drain_smtp())
        tasks = (self._maintenance, self._repair, self._batch_sync, self._retention_task)
        for reload in list(self._reloads):
            reload.cancel()
        for task in (*tasks, self._watchdog):
            if task is not None:
                task.cancel()
        await self.scheduler.stop(max(0.0, deadline - time.monotonic()))
        await self.spool.stop()
        await self.bus.stop()
        await self.webhook_sender.stop()
        for server in self._smtp_servers:
            await server.wait_closed()
        await self.engine.dispose()
        if self.layout.socket is not None:
            self.layout.socket.unlink(missing_ok=True)
        self.spool_lock.release()
        log.info("event=stopped")

    async def _stop_http(self) -> None:
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task

    async def _drain_smtp(self) -> None:
        left = await drain_smtp_sessions(self.settings.server.shutdown_grace_seconds)
        if left:
            log.warning("event=shutdown_grace_expired smtp_sessions_open=%d", left)
