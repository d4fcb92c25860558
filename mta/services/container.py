"""The bundle of services the edges (HTTP, SMTP, CLI) are handed by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from mta.intake.pipeline import Intake
from mta.metrics import Metrics, Readiness
from mta.scheduler.control import QueueControl
from mta.services.accounts import AccountService
from mta.services.api_keys import ApiKeyService
from mta.services.asm_groups import AsmGroupService
from mta.services.batches import BatchService
from mta.services.domains import DomainService
from mta.services.identity import TokenService
from mta.services.messages import MessageService
from mta.services.stats import StatsService
from mta.services.suppressions import SuppressionService
from mta.services.templates import TemplateService
from mta.services.tracking import TrackingService
from mta.services.webhooks import WebhookService


@dataclass(frozen=True)
class Services:
    accounts: AccountService
    api_keys: ApiKeyService
    domains: DomainService
    templates: TemplateService
    messages: MessageService
    webhooks: WebhookService
    tokens: TokenService
    intake: Intake
    queue: QueueControl
    batches: BatchService
    suppressions: SuppressionService
    asm_groups: AsmGroupService
    stats: StatsService
    tracking: TrackingService
    metrics: Metrics
    readiness: Readiness
