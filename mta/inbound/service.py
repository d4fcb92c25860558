"""The inbound MX's processor: which domains we accept mail for, and what a received
bounce means (a DSN to a VERP address becomes a bounce or deferred event)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.db.models import Message, MessageRecipient
from mta.delivery.classify import classify_bounce, reply_from
from mta.events.bus import EventBus
from mta.events.model import Bounce, Deferred
from mta.inbound.dsn import DsnRecipient, parse_dsn
from mta.model import parse_verp
from mta.services.domains import DomainService
from mta.ttl_cache import TtlCache

log = logging.getLogger(__name__)
ANSWER_TTL_SECONDS = 30.0


class InboundService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        domains: DomainService,
        bus: EventBus,
        inbound_domains: list[str],
    ) -> None:
        self._sessions = sessions
        self._domains = domains
        self._bus = bus
        self._static = {d.lower().rstrip(".") for d in inbound_domains}
        self._answers: TtlCache[str, bool] = TtlCache(ANSWER_TTL_SECONDS)  # domain → ours?

    async def accepts_domain(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        if domain in self._static:
            return True
        return await self._answers.get_or_load(domain, lambda: self._is_return_path(domain))

    async def _is_return_path(self, domain: str) -> bool:
        return await self._domains.by_return_path_host(domain) is not None

    async def receive(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        reports = parse_dsn(data)
        for rcpt in rcpt_tos:
            verp = parse_verp(rcpt)
            if verp is None:
                log.info("event=inbound_unmatched rcpt=%s from=%s", rcpt, mail_from)
                continue
            for report in reports:
                await self._apply(verp[0], verp[1], report)

    async def _apply(self, message_id: str, index: int, report: DsnRecipient) -> None:
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
            recipient = await session.scalar(
                select(MessageRecipient).where(
                    MessageRecipient.message_id == message_id, MessageRecipient.index == index
                )
            )
        if message is None or recipient is None or report.action not in ("failed", "delayed"):
            return
        code = 550 if report.status.startswith("5") or report.action == "failed" else 451
        reply = reply_from(code, f"{report.status} {report.diagnostic}".strip())
        common: dict[str, Any] = dict(
            account_id=message.account_id,
            message_id=message_id,
            email=recipient.email,
            recipient_index=index,
            categories=list(message.categories),
            custom_args=dict(message.custom_args),
        )
        if report.action == "delayed":
            self._bus.emit(
                Deferred(**common, response=reply.line(), status=reply.enhanced, attempt=0)
            )
            return
        classification, kind = classify_bounce(reply)
        self._bus.emit(
            Bounce(
                **common,
                reason=reply.line(),
                status=reply.enhanced,
                type=kind,
                bounce_classification=classification,
            )
        )
