"""The composition root's builders: from settings to the parts one server process runs (the
engine, spool, event bus, scheduler), the services the edges are handed, and the MX's side."""

from __future__ import annotations

import functools
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from config.checks import parse_hostport
from config.settings import Settings
from control.services import Services
from mta.core.clock import Clock, SystemClock
from mta.core.dns import DnsResolver, Resolver
from mta.core.metrics import Metrics, Readiness
from mta.db.engine import database_url, make_engine, make_sessionmaker
from mta.db.sealed import seal_with
from mta.db.write_turns import write_turns_for
from mta.delivery.client import AiosmtplibConnector
from mta.delivery.deliverer import Deliverer
from mta.events.bus import EventBus
from mta.events.retention import RetentionPolicy
from mta.events.stats import MessageActivitySink, StatsSink
from mta.handlebars.budget import RenderLimits
from mta.inbound_mail.inbound_spool import InboundSpool
from mta.inbound_mail.parse_inbox import ParseInbox, Retries
from mta.inbound_mail.parse_settings import ParseSettingsService
from mta.inbound_mail.reports.receive import ReportReceiver
from mta.inbound_mail.service import InboundService
from mta.scheduler.queue_admin import QueueControl
from mta.scheduler.scheduler import Scheduler
from mta.server.key_files import secret_file
from mta.server.return_path_keys import return_path_keys
from mta.server.secrets_keys import sealer_for
from mta.server.workers import WorkerLayout, host_spools
from mta.services.accounts import AccountService
from mta.services.api_keys import ApiKeyService
from mta.services.asm_groups import AsmGroupService
from mta.services.batches import BatchService
from mta.services.deliverability_check import DeliverabilityService
from mta.services.domains import DomainService
from mta.services.event_feed import EventFeed
from mta.services.identity import TokenService
from mta.services.messages import MessageService
from mta.services.reports import ReportStore
from mta.services.sent_mail import SentMail
from mta.services.stats import StatsService
from mta.services.suppression_sink import SuppressionSink
from mta.services.suppressions import SuppressionService
from mta.services.templates import TemplateService
from mta.services.users import UserService
from mta.submission.pipeline import Intake
from mta.submission.send_request.build_budget import BuildLimits
from mta.submission.suppression_lookup import CoalescedLookup
from mta.tracking.service import TrackingService, make_tracker
from mta.webhooks import SendGridEventWebhook, WebhookSender, WebhookService
from queue_store import LogSpool
from queue_store.sent_copies import KeepSent


@dataclass(frozen=True)
class Core:
    """The parts every service and edge is built on, one set per process."""

    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    metrics: Metrics
    readiness: Readiness
    resolver: Resolver
    spool: LogSpool
    webhook_sender: WebhookSender
    bus: EventBus
    connector: AiosmtplibConnector
    scheduler: Scheduler
    clock: Clock  # the one clock every part that waits, retries, expires or stamps reads


def jwt_secret(settings: Settings) -> str:
    """The configured secret, or one generated on first use and kept in data_dir."""
    if settings.auth.jwt_secret:
        return settings.auth.jwt_secret
    path = secret_file(settings)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def keep_sent(settings: Settings) -> KeepSent:
    storage = settings.storage
    return KeepSent(
        seconds=storage.keep_sent_hours * 3600, max_bytes=storage.keep_sent_megabytes << 20
    )


def build_core(
    settings: Settings, layout: WorkerLayout, data_dir: Path, resolver: Resolver | None
) -> Core:
    """The database, the spool, the event bus and its sinks, delivery and the scheduler."""
    engine = seal_with(
        make_engine(database_url(settings.storage.database_url, data_dir)), sealer_for(settings)
    )
    sessions = make_sessionmaker(engine)
    metrics, readiness, clock = Metrics(), Readiness(), SystemClock()
    resolver = resolver or DnsResolver(settings.dns, metrics, clock)
    spool = LogSpool(layout.spool, keep_sent=keep_sent(settings).enabled)
    turns = write_turns_for(engine)  # the bus's and the outbox's writes, in order
    sender = WebhookSender(
        sessions, settings.webhooks, resolver, metrics=metrics, clock=clock, turns=turns
    )
    bus = EventBus(sessions, on_outbox=sender.wake, metrics=metrics, clock=clock, turns=turns)
    bus.add_sink(SuppressionSink())
    bus.add_sink(MessageActivitySink())  # message log counters
    bus.add_sink(StatsSink())  # daily stats aggregates
    connector = AiosmtplibConnector.from_settings(settings.smtp.hostname, settings.delivery)
    deliverer = Deliverer(
        settings.delivery,
        resolver,
        connector,
        own_listeners=own_listeners(settings),
        return_path_keys=return_path_keys(settings),
    )
    scheduler = Scheduler(spool, deliverer, bus, settings.delivery, metrics=metrics, clock=clock)
    core = Core(
        engine,
        sessions,
        metrics,
        readiness,
        resolver,
        spool,
        sender,
        bus,
        connector,
        scheduler,
        clock,
    )
    watch_health(core)
    return core


def watch_health(core: Core) -> None:
    """What /metrics reads when scraped and how /readyz asks the database."""

    async def select_one() -> None:
        async with core.sessions() as session:
            await session.execute(text("SELECT 1"))

    core.metrics.watch_queue(core.scheduler.queue_depth)
    core.metrics.watch_webhook_backlog(core.webhook_sender.backlog)
    core.readiness.watch_database(select_one)


def build_services(settings: Settings, core: Core, layout: WorkerLayout) -> Services:
    """The account-scoped services, the submission pipeline and the queue's controls."""
    sessions, secret, clock = core.sessions, jwt_secret(settings), core.clock
    domains = DomainService(sessions, core.resolver, settings.smtp.hostname, clock)
    templates = TemplateService(sessions, clock)
    batches = BatchService(sessions, core.scheduler, clock)
    suppressions = SuppressionService(sessions, clock)
    webhooks = build_webhooks(settings, core)
    tracker = make_tracker(settings.tracking, settings.http.listen, secret)
    lookup = CoalescedLookup(suppressions)
    limits = RenderLimits(**msgspec.structs.asdict(settings.templates))
    intake = Intake(
        core.spool,
        core.scheduler,
        core.bus,
        domains,
        templates,
        batches,
        lookup,
        tracker,
        clock,
        render_limits=limits,
        build_limits=build_limits(settings),
    )
    asm_groups = AsmGroupService(sessions, clock)
    parse_settings = build_parse_settings(settings, core, webhooks)
    deliverability = build_deliverability(settings, core, domains, asm_groups, tracker.base_url)
    return Services(
        accounts=AccountService(sessions, clock),
        api_keys=ApiKeyService(sessions, clock),
        domains=domains,
        deliverability=deliverability,
        templates=templates,
        messages=MessageService(sessions),
        events=EventFeed(sessions),
        webhooks=webhooks,
        event_webhook=SendGridEventWebhook(sessions, webhooks, clock),
        parse_settings=parse_settings,
        parse_inbox=ParseInbox(sessions, parse_settings, parse_retries(settings), clock),
        tokens=TokenService(secret, clock),
        intake=intake,
        queue=QueueControl(core.spool, core.scheduler, core.bus, layout.held_file, clock),
        sent_mail=SentMail(functools.partial(host_spools, Path(settings.storage.data_dir))),
        batches=batches,
        suppressions=suppressions,
        asm_groups=asm_groups,
        stats=StatsService(sessions, clock),
        tracking=TrackingService(sessions, core.bus, tracker),
        users=UserService(sessions, clock),
        reports=ReportStore(sessions, clock),
        metrics=core.metrics,
        readiness=core.readiness,
        clock=clock,
    )


def build_limits(settings: Settings) -> BuildLimits:
    http = settings.http
    return BuildLimits(max_bytes=http.max_send_build_bytes, max_seconds=http.max_send_build_seconds)


def build_deliverability(
    settings: Settings,
    core: Core,
    domains: DomainService,
    asm_groups: AsmGroupService,
    one_click_base_url: str,
) -> DeliverabilityService:
    return DeliverabilityService(
        domains,
        core.resolver,
        asm_groups,
        smtp_hostname=settings.smtp.hostname,
        source_address="",  # no setting binds outbound mail to an address: the system picks
        one_click_base_url=one_click_base_url,
    )


def parse_retries(settings: Settings) -> Retries:
    inbound = settings.inbound
    give_up = inbound.parse_give_up_hours * 3600
    lease = settings.webhooks.timeout_seconds + 15  # the post's own timeout and a margin
    return Retries(inbound.parse_retry_schedule_seconds, give_up, lease)


def build_parse_settings(
    settings: Settings, core: Core, webhooks: WebhookService
) -> ParseSettingsService:
    spam_scanner = bool(settings.inbound.spamd)
    return ParseSettingsService(core.sessions, webhooks.check_url, spam_scanner, core.clock)


def build_webhooks(settings: Settings, core: Core) -> WebhookService:
    return WebhookService(
        core.sessions,
        settings.webhooks.allow_private_targets,
        settings.webhooks.allowed_ports,
        on_outbox=core.webhook_sender.wake,
        oauth_tester=core.webhook_sender,
        clock=core.clock,
    )


def build_inbound(
    settings: Settings, core: Core, services: Services, spool: InboundSpool | None = None
) -> InboundService:
    """What the MX does with mail for our return-path hosts and inbound domains (`spool`:
    where it waits for the processor after the 250; None: processed before it)."""
    return InboundService(
        core.sessions,
        services.domains,
        core.bus,
        settings.smtp.inbound_domains,
        core.resolver,
        core.clock,
        return_path_keys=return_path_keys(settings),
        fbl_addresses=settings.inbound.fbl_addresses,
        reports=ReportReceiver(services.reports, services.domains, settings.smtp.inbound_domains),
        parse=services.parse_inbox,
        spool=spool,
    )
