"""The composition root: one `scaisend serve` process built from its settings (mta/server/
build.py) and started and stopped in order: database, spool, scheduler, SMTP, HTTP."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

import uvicorn

from config.settings import Settings, SmtpSettings
from control.app import create_asgi
from control.fanout import fan_out
from mta.core.dns import Resolver
from mta.db.engine import create_schema
from mta.db.models import Base
from mta.db.sealed import reseal
from mta.inbound_mail.inbound_spool import INBOUND_SPOOL_DIR, InboundSpool
from mta.inbound_mail.processor import InboundProcessor
from mta.inbound_mail.unsubscribe import UnsubscribeMail
from mta.listeners.servers import ListenerControls, start_listeners
from mta.listeners.tls import CertificateStore, ensure_certificate
from mta.server.background import BackgroundTasks
from mta.server.build import build_core, build_inbound, build_services
from mta.server.logs import apply_log_settings
from mta.server.notify import Notifier
from mta.server.private_files import private_dir
from mta.server.reload import ConfigPath, HttpEdge, log_change, read_settings
from mta.server.runtime import EmbeddedUvicorn, drain_smtp_sessions, listen_socket, unix_sockets
from mta.server.workers import layout
from mta.services.accounts import EnabledAccountKeys
from mta.services.identity import Principal
from mta.submission.pipeline import RelaySubmitter
from queue_store.lock import SpoolLock

log = logging.getLogger(__name__)


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
        private_dir(self.data_dir)
        self.layout = layout(self.data_dir, settings.server.workers, worker)
        self.core = build_core(settings, self.layout, self.data_dir, resolver)
        self.services = build_services(settings, self.core, self.layout)
        # the MX's received mail, inside this worker's spool directory, and its processor
        self.inbound_spool = InboundSpool(self.layout.spool / INBOUND_SPOOL_DIR)
        self.inbound = build_inbound(settings, self.core, self.services, self.inbound_spool)
        self.inbound_processor = InboundProcessor(self.inbound_spool, self.inbound.process)
        self.background = BackgroundTasks(settings, self.core, self.layout)
        self.spool_lock = SpoolLock(self.layout.spool)
        self.notifier = Notifier.from_environ()
        self.certificates: CertificateStore | None = None
        self.listener_controls: ListenerControls | None = None
        self.http_port = 0
        self._smtp_servers: list[asyncio.Server] = []
        self._http: EmbeddedUvicorn | None = None
        self._http_task: asyncio.Task[None] | None = None
        self._edge: HttpEdge | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._sighup_installed = False
        self._reload_lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        core = self.core
        self.spool_lock.acquire()  # SpoolLocked: another `scaisend serve` owns this spool
        await create_schema(core.engine)
        resealed = await reseal(
            core.engine, Base.metadata
        )  # secrets stored before sealing, or by an old key
        if resealed:
            log.info("event=secrets_sealed count=%d", resealed)
        core.bus.start()
        core.webhook_sender.start()
        recovered = core.scheduler.recover()
        await core.spool.start()
        core.readiness.mark("spool")
        await self.services.batches.start()  # paused and cancelled batches, before any send
        self.services.accounts.listen(core.scheduler)
        await self.services.accounts.sync()  # disabled accounts' mail waits
        core.scheduler.start()
        await self.inbound_spool.start()  # what a crash left is processed first
        self.inbound_processor.start()
        services = self.services
        self.background.start(services.batches, services.accounts, services.parse_inbox)
        await self._start_smtp()
        core.readiness.mark("smtp")
        self._install_sighup()  # before HTTP answers, so "ready" implies SIGHUP is safe
        await self._start_http()
        core.readiness.mark("http")
        log.info("event=started recovered=%d http_port=%d", recovered, self.http_port)
        self.notifier.ready()
        self._watchdog = asyncio.create_task(self.notifier.run_watchdog(), name="watchdog")

    async def _start_smtp(self) -> None:
        inbound = UnsubscribeMail(self.inbound, self.services.tracking)
        relay = await self._relay(self.settings.smtp)
        self.listener_controls = ListenerControls(
            self.settings.smtp, inbound, relay, self.core.clock
        )
        self._smtp_servers = await start_listeners(
            self.settings.smtp,
            self._load_certificates().context,
            self.services.intake,
            EnabledAccountKeys(self.services.api_keys, self.services.accounts),
            inbound,
            relay,
            metrics=self.core.metrics,
            controls=self.listener_controls,
            reuse_port=self.layout.reuse_port,
        )

    async def _relay(self, smtp: SmtpSettings) -> RelaySubmitter | None:
        """The trusted-network relay, attributed to `[smtp] relay_account` (created if new)."""
        if not smtp.relay_networks:
            return None
        account = await self.services.accounts.get_or_create(smtp.relay_account)
        principal = Principal(account_id=account.id, kind="relay", subject=smtp.relay_account)
        return RelaySubmitter(self.services.intake, principal)

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
        self.core.connector.apply_settings(settings.delivery)  # first: its CA bundle may not load
        apply_log_settings(settings.log.level, settings.log.format)
        self.core.scheduler.apply_settings(settings.delivery)
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
        app = self._edge = create_asgi(
            self.services, self.settings.http, self.core.engine, self.layout.peers
        )
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

    async def stop(self) -> None:
        """SIGTERM: stop accepting; open SMTP sessions and HTTP requests get up to `[server]
        shutdown_grace_seconds` to end; then delivery stops, the spool and the event bus
        are flushed, and the spool lock is released."""
        core = self.core
        for part in ("smtp", "http", "spool"):
            core.readiness.mark(part, ready=False)
        self._remove_sighup()
        for server in self._smtp_servers:
            server.close()
        self.notifier.stopping()  # after close(): STOPPING=1 means no new SMTP sessions
        deadline = time.monotonic() + self.settings.server.shutdown_grace_seconds
        await asyncio.gather(self._stop_http(), self._drain_smtp())
        self.background.cancel()
        for reload in list(self._reloads):
            reload.cancel()
        if self._watchdog is not None:
            self._watchdog.cancel()
        await core.scheduler.stop(max(0.0, deadline - time.monotonic()))
        await self.inbound_processor.stop()
        await self.inbound_spool.stop()
        await core.spool.stop()
        await core.bus.stop()
        await core.webhook_sender.stop()
        for server in self._smtp_servers:
            await server.wait_closed()
        await core.engine.dispose()
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
