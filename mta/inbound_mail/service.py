"""The inbound MX's processor: which domains we accept mail for, and what a received message
means. DSNs to a signed return path become bounce or deferred events, ARF reports there or
at a DKIM-verified FBL address spam_report events (suppressions follow through the bus's
sinks); DMARC aggregate and TLS-RPT reports go to mta/inbound_mail/reports; DMARC failure
reports and everything else are only recorded and logged."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.dns import Resolver
from mta.core.events import event_type
from mta.core.model import new_id
from mta.core.return_path import ReturnPathKeys
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import Domain, InboundMessage, Message, MessageRecipient
from mta.db.models import Event as EventRow
from mta.events.bus import EventBus
from mta.inbound_mail.authcheck import AuthCheck, aligned, check_authentication
from mta.inbound_mail.matching import (
    AUTH_FAILURE,
    Candidate,
    Reference,
    authorised,
    events_for,
    references,
)
from mta.inbound_mail.parse_form import ParseEnvelope
from mta.inbound_mail.parse_inbox import ParseInbox
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.parts import parse_bytes
from mta.inbound_mail.parsing.report import Report
from mta.inbound_mail.reports.extract import report_kind
from mta.inbound_mail.reports.receive import ReportReceiver
from mta.services.domains import DomainService

log = logging.getLogger(__name__)
ANSWER_TTL_SECONDS = SHARED_CACHE_SECONDS
ACTIONABLE = ("dsn", "arf")
MAX_NOTES = 5  # refused references named in the record's note


class Outcome(msgspec.Struct, kw_only=True):
    """What one received message did: the message it matched and the events it gave, or
    why none (`note`)."""

    message_id: str | None = None
    account_id: str | None = None
    events: list[str] = msgspec.field(default_factory=list)
    note: str = ""


class InboundService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        domains: DomainService,
        bus: EventBus,
        inbound_domains: list[str],
        resolver: Resolver | None = None,
        clock: Clock | None = None,
        return_path_keys: ReturnPathKeys | None = None,
        fbl_addresses: list[str] | None = None,
        reports: ReportReceiver | None = None,
        parse: ParseInbox | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        # without the install's keys no return path verifies: nothing is ever suppressed
        self._keys = return_path_keys or ReturnPathKeys.generate()
        self._fbl = frozenset(address.lower().rstrip(".") for address in fbl_addresses or [])
        self._sessions = sessions
        self._domains = domains
        self._bus = bus
        self._resolver = resolver
        self._reports = reports  # DMARC aggregate and TLS-RPT reports (dmarc@, tlsrpt@)
        self._parse = parse  # Inbound Parse hostnames: their mail is posted to a URL
        self._static = {d.lower().rstrip(".") for d in inbound_domains}
        self._static |= {address.rpartition("@")[2] for address in self._fbl}
        # domain → whether it is ours
        self._answers: TtlCache[str, bool] = TtlCache(ANSWER_TTL_SECONDS, clock=self._clock)
        # Matching reads recipient state the bus has not written yet: one report at a time,
        # each flushed before the next, so a DSN delivered twice bounces a recipient once.
        self._matching = asyncio.Lock()

    async def accepts_domain(self, domain: str) -> bool:
        domain = domain.lower().rstrip(".")
        if domain in self._static:
            return True
        if await self._answers.get_or_load(domain, lambda: self._is_return_path(domain)):
            return True
        return self._parse is not None and await self._parse.is_parse_host(domain)

    async def _is_return_path(self, domain: str) -> bool:
        return await self._domains.by_return_path_host(domain) is not None

    async def receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str = ""
    ) -> None:
        """Classify, authenticate, match and record one message. Never answers with a bounce
        of its own: autoreplies and anything unrecognised are recorded and discarded. Mail
        for Inbound Parse hostnames is stored to be posted (durable on return)."""
        rcpt_tos = await self._parsed(mail_from, rcpt_tos, data, sender_ip)
        if not rcpt_tos:
            return
        if self._reports is not None and (kind := report_kind(rcpt_tos)):
            got = await self._reports.receive(kind, rcpt_tos, data)
            outcome = Outcome(account_id=got.account_id, note=got.note)
            await self._record(mail_from, rcpt_tos, data, kind, None, outcome)
            return
        # in a worker thread, the event loop answering meanwhile; ValidationError (550
        # 5.6.0) for hostile MIME
        report = await asyncio.to_thread(classify_message, data)
        auth = await self._authenticate(data)
        outcome = Outcome(note=f"{report.kind} discarded")
        if is_dmarc_failure(report):
            outcome = Outcome(note="DMARC failure report: recorded, never a complaint")
        elif report.kind in ACTIONABLE:
            async with self._matching:
                outcome = await self._apply(report, rcpt_tos, auth)
        await self._record(mail_from, rcpt_tos, data, record_kind(report), auth, outcome)

    async def _parsed(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str
    ) -> list[str]:
        """Store the message for the recipients at parse hostnames; the other recipients."""
        if self._parse is None:
            return rcpt_tos
        parse: list[str] = []
        rest: list[str] = []
        for rcpt in rcpt_tos:
            host = rcpt.rpartition("@")[2].lower().rstrip(".")
            wanted = host not in self._static and await self._parse.is_parse_host(host)
            (parse if wanted else rest).append(rcpt)
        if parse:
            await asyncio.to_thread(parse_bytes, data)  # ValidationError (550): hostile MIME
            envelope = ParseEnvelope(mail_from=mail_from, rcpt_tos=parse, sender_ip=sender_ip)
            await self._parse.store(envelope, data)
        return rest

    def _trusted_fbl(self, report: Report, rcpt_tos: list[str], auth: AuthCheck | None) -> str:
        """Whether an FBL address received it: "trusted" for an ARF report to one, DKIM-signed
        by its From domain; "untrusted" for another ARF report to one; "" for the rest."""
        if report.kind != "arf" or not any(r.lower().rstrip(".") in self._fbl for r in rcpt_tos):
            return ""
        return "trusted" if auth is not None and aligned(auth) else "untrusted"

    async def _authenticate(self, data: bytes) -> AuthCheck | None:
        """The DKIM / Authentication-Results check; a failure to check is recorded, not
        fatal (it leaves an FBL report untrusted: docs/inbound-service.md)."""
        if self._resolver is None:
            return None
        try:
            return await check_authentication(data, self._resolver)
        except Exception:
            log.warning("event=inbound_auth_check_failed", exc_info=True)
            return None

    async def _apply(self, report: Report, rcpt_tos: list[str], auth: AuthCheck | None) -> Outcome:
        fbl = self._trusted_fbl(report, rcpt_tos, auth)
        refs, refused = references(report, rcpt_tos, self._keys, trusted_fbl=fbl == "trusted")
        if fbl == "untrusted":
            refused.insert(0, "FBL report not DKIM-signed by its From domain")
        if refused:
            log.warning("event=inbound_unverified rcpt=%s why=%r", ",".join(rcpt_tos), refused)
        noted = "; ".join(refused[:MAX_NOTES])
        outcome = Outcome(note=noted or ("unmatched" if not refs else ""))
        for ref in refs:
            if ref.via != "rcpt" and outcome.message_id:
                continue
            note = await self._apply_one(report, ref, outcome)
            outcome.note = outcome.note or note
        if outcome.message_id and outcome.events:
            outcome.note = ""
        return outcome

    async def _apply_one(self, report: Report, ref: Reference, outcome: Outcome) -> str:
        """Emit the events `ref` gives into `outcome`; the note when it gives none."""
        candidate = await self._candidate(ref.message_id)
        if candidate is None:  # a fast bounce can come back before its message is logged
            await self._bus.written()
            candidate = await self._candidate(ref.message_id)
        if candidate is None:
            return f"unknown message {ref.message_id}"
        if not authorised(ref, candidate):
            log.warning(
                "event=inbound_foreign message_id=%s host=%s", ref.message_id, ref.host or "-"
            )
            return f"foreign reference to {ref.message_id}"
        outcome.message_id = outcome.message_id or candidate.message_id
        outcome.account_id = outcome.account_id or candidate.account_id
        events = events_for(report, candidate, ref.index)
        for event in events:
            self._bus.emit(event)
        if events:
            await self._bus.flush()
        outcome.events.extend(event_type(event) for event in events)
        return "" if events else "no new event (already recorded, or no matching recipient)"

    async def _candidate(self, message_id: str) -> Candidate | None:
        """The message as matching needs it, or None when it is not in the message log."""
        async with self._sessions() as session:
            message = await session.get(Message, message_id)
            if message is None:
                return None
            rows = await session.execute(
                select(MessageRecipient.index, MessageRecipient.email, MessageRecipient.status)
                .where(MessageRecipient.message_id == message_id)
                .order_by(MessageRecipient.index)
            )
            hosts = await session.scalars(
                select(Domain.return_path_host).where(Domain.account_id == message.account_id)
            )
            complained = await session.scalars(
                select(EventRow.email).where(
                    EventRow.message_id == message_id, EventRow.event_type == "spam_report"
                )
            )
            return Candidate(
                message_id=message.id,
                account_id=message.account_id,
                hosts=frozenset(host.lower() for host in hosts),
                recipients=[(i, email, status) for i, email, status in rows],
                categories=list(message.categories),
                custom_args={k: str(v) for k, v in message.custom_args.items()},
                complained=frozenset(email.lower() for email in complained),
            )

    async def _record(
        self,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        kind: str,
        auth: AuthCheck | None,
        outcome: Outcome,
    ) -> None:
        dkim, authres = _auth_fields(auth)
        row = InboundMessage(
            id=new_id(),
            received_at=self._clock.time(),
            mail_from=mail_from[:254],
            rcpt=", ".join(rcpt_tos),
            kind=kind,
            dkim=dkim,
            authres=authres,
            message_id=outcome.message_id,
            account_id=outcome.account_id,
            events=outcome.events,
            note=outcome.note,
            size=len(data),
        )
        async with self._sessions() as session, session.begin():
            session.add(row)
        log.info(
            "event=inbound id=%s kind=%s from=%s rcpt=%s dkim=%s message_id=%s events=%s note=%r",
            row.id,
            row.kind,
            mail_from or "<>",
            row.rcpt,
            dkim,
            outcome.message_id or "-",
            ",".join(outcome.events) or "-",
            outcome.note,
        )


def is_dmarc_failure(report: Report) -> bool:
    """An RFC 6591 authentication failure report: its own kind, never a complaint."""
    return report.kind == "arf" and report.feedback_type == AUTH_FAILURE


def record_kind(report: Report) -> str:
    """The kind recorded: the parser's, with DMARC failure reports apart (`auth-failure`)."""
    return AUTH_FAILURE if is_dmarc_failure(report) else report.kind


def _auth_fields(auth: AuthCheck | None) -> tuple[str, str]:
    """(DKIM result, summary) as recorded: the signing domain and the Authentication-Results
    of the nearest hop that added one, e.g. `d=isp.test; mx.isp.test: dkim=pass spf=fail`.
    "unchecked" when no check ran."""
    if auth is None:
        return "unchecked", ""
    results = " ".join(f"{method}={result}" for method, result in auth.results.items())
    parts = [f"d={auth.dkim_domain}" if auth.dkim_domain else ""]
    parts.append(f"{auth.authserv_id or '-'}: {results}" if results else "")
    return auth.dkim, "; ".join(part for part in parts if part)
