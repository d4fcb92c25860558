"""The server's own background tasks: spool compaction, the sweep of kept sent mail,
message-log repair after a crash, retention, and following the batch pauses and cancels
made through other nodes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from config.checks import parse_hostport
from config.settings import Settings
from mta.events.retention import Retention
from mta.inbound_mail.parse_inbox import ParseInbox
from mta.inbound_mail.parse_poster import ParsePoster
from mta.inbound_mail.spamd import spamd_address
from mta.inbound_mail.spf_check import sync_resolver
from mta.server.build import Core, keep_sent, retention_policy
from mta.server.workers import WorkerLayout
from mta.services.accounts import AccountService
from mta.services.batches import BatchService
from mta.submission.log_repair import LogRepair
from mta.webhooks import WebhookClient
from queue_store.sent_copies import KeepSent, sweep

log = logging.getLogger(__name__)
COMPACTION_INTERVAL_SECONDS = 600.0
SENT_SWEEP_SECONDS = 300.0
PARSE_CONNECTIONS = 16  # Inbound Parse posts in flight per worker
BATCH_SYNC_SECONDS = 30.0  # how soon a pause or cancel made on another node takes effect
SHARED_BATCH_SYNC_SECONDS = 2.0  # the same when the nodes share PostgreSQL (several nodes)


class BackgroundTasks:
    """Started once the spool is up, cancelled first at a stop."""

    def __init__(self, settings: Settings, core: Core, layout: WorkerLayout) -> None:
        self._settings = settings
        self._core = core
        self._layout = layout
        self._retention = Retention(core.sessions, retention_policy(settings), core.clock)
        self._log_repair = LogRepair(core.spool, core.sessions, core.bus, core.clock)
        self._tasks: list[asyncio.Task[object]] = []

    def start(self, batches: BatchService, accounts: AccountService, parse: ParseInbox) -> None:
        self._spawn(self._compact_spool(), "spool-compaction")
        self._spawn(self._parse_poster(parse).run(), "parse-poster")
        if (keep := keep_sent(self._settings)).enabled:
            self._spawn(self._sweep_sent(keep), "sent-mail-sweep")
        self._spawn(self._log_repair.run(), "message-log-repair")
        if self._layout.primary:  # one pruner per host is enough; the others would race it
            self._spawn(self._retention.run(), "retention")
        self._spawn(batches.follow(self._batch_sync_interval()), "batch-sync")
        self._spawn(accounts.follow(self._batch_sync_interval()), "account-sync")

    def _parse_poster(self, inbox: ParseInbox) -> ParsePoster:
        hooks = self._settings.webhooks
        client = WebhookClient(
            self._core.resolver,
            hooks.allow_private_targets,
            PARSE_CONNECTIONS,
            hooks.timeout_seconds,
        )
        spamd = spamd_address(self._settings.inbound.spamd)
        dns_settings = self._settings.dns
        servers = [parse_hostport(server, 53) for server in dns_settings.nameservers]
        spf_dns = sync_resolver(servers, dns_settings.timeout_seconds)
        return ParsePoster(inbox, client, self._core.resolver, spf_dns, spamd)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    def _spawn(self, work: Coroutine[Any, Any, object], name: str) -> None:
        self._tasks.append(asyncio.create_task(work, name=name))

    def _batch_sync_interval(self) -> float:
        """Pauses and cancels made through other nodes take effect soon when the nodes share
        PostgreSQL (or are workers of one host)."""
        shared = self._core.engine.dialect.name == "postgresql"
        if shared and not self._settings.auth.jwt_secret:  # tokens and links of one node only
            log.warning("event=jwt_secret_per_node hint=set_[auth]_jwt_secret_on_every_node")
        if shared and not self._settings.inbound.return_path_keys:  # bounces of one node only
            log.warning("event=return_path_keys_per_node hint=set_[inbound]_return_path_keys")
        if shared and not self._settings.storage.secrets_keys:  # secrets sealed per node
            log.warning("event=secrets_keys_per_node hint=set_[storage]_secrets_keys")
        several = shared or self._layout.index is not None  # workers: nodes on one host
        return SHARED_BATCH_SYNC_SECONDS if several else BATCH_SYNC_SECONDS

    async def _sweep_sent(self, keep: KeepSent) -> None:
        """Delete this worker's kept sent mail past its time or beyond its size, now and
        then (at start too)."""
        while True:
            try:
                # the files' times are the system's: compare with its clock, not core.clock
                gone = await asyncio.to_thread(sweep, self._layout.spool, keep, time.time())
            except OSError as exc:
                log.warning("event=sent_mail_sweep_failed error=%r", exc.strerror)
            else:
                if gone:
                    log.info("event=sent_mail_swept segments=%s", gone)
            await asyncio.sleep(SENT_SWEEP_SECONDS)

    async def _compact_spool(self) -> None:
        """Rewrite mostly-dead spool segments now and then, so long-deferred mail does not
        keep whole segments of delivered mail on disk."""
        while True:
            await asyncio.sleep(COMPACTION_INTERVAL_SECONDS)
            try:
                compacted = await self._core.spool.compact()
            except Exception:
                log.exception("event=spool_compaction_failed")
                continue
            if compacted:
                log.info("event=spool_compacted segments=%s", compacted)
