"""The services the HTTP adapter is handed: one frozen bundle, built by the composition root
(mta/server/app.py) and given to every route through dependency injection."""

from __future__ import annotations

from dataclasses import dataclass, field

from mta.core.clock import Clock, SystemClock
from mta.core.metrics import Metrics, Readiness
from mta.inbound_mail.parse_inbox import ParseInbox
from mta.inbound_mail.parse_settings import ParseSettingsService
from mta.scheduler.queue_admin import QueueControl
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
from mta.services.suppressions import SuppressionService
from mta.services.templates import TemplateService
from mta.services.users import UserService
from mta.submission.pipeline import Intake
from mta.tracking.service import TrackingService
from mta.webhooks import SendGridEventWebhook, WebhookService


@dataclass(frozen=True)
class Services:
    accounts: AccountService
    api_keys: ApiKeyService
    domains: DomainService
    deliverability: DeliverabilityService
    templates: TemplateService
    messages: MessageService
    events: EventFeed
    webhooks: WebhookService
    parse_settings: ParseSettingsService
    parse_inbox: ParseInbox
    event_webhook: SendGridEventWebhook
    tokens: TokenService
    intake: Intake
    queue: QueueControl
    sent_mail: SentMail
    batches: BatchService
    suppressions: SuppressionService
    asm_groups: AsmGroupService
    stats: StatsService
    tracking: TrackingService
    users: UserService
    reports: ReportStore  # DMARC aggregate and TLS-RPT reports received at the MX
    metrics: Metrics
    readiness: Readiness
    clock: Clock = field(default_factory=SystemClock)  # the HTTP rate limits read it
