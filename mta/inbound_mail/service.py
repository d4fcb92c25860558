"""The inbound MX's processor: which domains we accept mail for, and what a received message
means (spooled before the 250, processed in batches after it). DSNs to a signed return path
become bounce or deferred events, ARF reports there or at a DKIM-verified FBL address
spam_report events (suppressions follow through the bus's sinks); DMARC aggregate and
TLS-RPT reports go to mta/inbound_mail/reports; the rest is only recorded and logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

import msgspec
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.dns import Resolver
from mta.core.errors import ValidationError
from mta.core.model import new_id
from mta.core.return_path import ReturnPathKeys
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import InboundMessage
from mta.events.bus import EventBus
from mta.inbound_mail.authcheck import AuthCheck, AuthHeaders, auth_headers, check_authentication
from mta.inbound_mail.batch_match import BatchMatcher, Matchable, Outcome, record_kind
from mta.inbound_mail.inbound_spool import InboundSpool, Received
from mta.inbound_mail.parse_form import ParseEnvelope
from mta.inbound_mail.parse_inbox import ParseInbox
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.parts import MAX_MULTIPARTS, parse_bytes
from mta.inbound_mail.parsing.report import Report
from mta.inbound_mail.reports.extract import report_kind
from mta.inbound_mail.reports.receive import ReportReceiver
from mta.services.domains import DomainService

log = logging.getLogger(__name__)
ANSWER_TTL_SECONDS = SHARED_CACHE_SECONDS
INBOUND = cast(Table, InboundMessage.__table__)


class Reading(msgspec.Struct, frozen=True, kw_only=True):
    """What the worker thread reads of one message: its report and the header fields the
    authentication check needs, or why its MIME was refused (`error`)."""

    report: Report | None
    headers: AuthHeaders | None
    error: str = ""


def refuse_complex_mime(data: bytes) -> None:
    """ValidationError (550 5.6.0) for MIME the parser would refuse: the bound parse_bytes
    applies, checked without parsing (nesting within it parses; docs/inbound-service.md)."""
    if data.lower().count(b"multipart/") > MAX_MULTIPARTS:
        raise ValidationError(f"MIME structure too complex (over {MAX_MULTIPARTS} multiparts)")


def read_one(data: bytes) -> Reading:
    try:
        return Reading(report=classify_message(data), headers=auth_headers(data))
    except ValidationError as exc:
        return Reading(report=None, headers=None, error=str(exc))


def read_all(datas: list[bytes]) -> list[Reading]:
    """Classify a batch (in a worker thread: CPU-bound)."""
    return [read_one(data) for data in datas]


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
        spool: InboundSpool | None = None,
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
        # received mail waits here for the processor; None: processed before the 250
        self._spool = spool
        # Matching reads recipient state the bus has not written yet: one batch at a time,
        # written before the next, so a DSN delivered twice bounces a recipient once.
        self._matching = asyncio.Lock()
        self._matcher = BatchMatcher(sessions, bus, self._keys, self._fbl)

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
        """Take one message. Mail for Inbound Parse hostnames is stored to be posted; the
        rest is refused with ValidationError (550 5.6.0) when its MIME is too complex, else
        committed to the inbound spool, when there is one, for the processor (durable on
        return), or processed at once. Never answers with a bounce of its own."""
        rcpt_tos = await self._parsed(mail_from, rcpt_tos, data, sender_ip)
        if not rcpt_tos:
            return
        refuse_complex_mime(data)
        received = Received(
            id=new_id(),
            mail_from=mail_from,
            rcpt_tos=rcpt_tos,
            sender_ip=sender_ip,
            received_at=self._clock.time(),
        )
        if self._spool is not None:
            await self._spool.put(received, data)
            return
        await self.process([(received, data)])

    async def process(self, batch: Sequence[tuple[Received, bytes]]) -> None:
        """Classify, authenticate, match and record a batch of received messages, in order:
        autoreplies and anything unrecognised are recorded and discarded. On return every
        event and record is in the database."""
        rows: list[dict[str, Any]] = []
        mail: list[tuple[Received, bytes]] = []
        for received, data in batch:
            kind = report_kind(received.rcpt_tos) if self._reports is not None else None
            if self._reports is not None and kind:
                got = await self._reports.receive(kind, received.rcpt_tos, data)
                outcome = Outcome(account_id=got.account_id, note=got.note)
                rows.append(self._row(received, len(data), kind, None, outcome))
            else:
                mail.append((received, data))
        if mail:
            await self._process_mail(mail, rows)
        await self._record(rows)

    async def _process_mail(
        self, mail: list[tuple[Received, bytes]], rows: list[dict[str, Any]]
    ) -> None:
        """Classify, authenticate and match `mail`; its records appended to `rows`."""
        # in a worker thread, the event loop answering meanwhile
        readings = await asyncio.to_thread(read_all, [data for _, data in mail])
        auths = await asyncio.gather(
            *(
                self._authenticate(data, r.headers)
                for (_, data), r in zip(mail, readings, strict=True)
            )
        )
        items = [
            Matchable(report=r.report, rcpt_tos=received.rcpt_tos, auth=auth, error=r.error)
            for (received, _), r, auth in zip(mail, readings, auths, strict=True)
        ]
        async with self._matching:
            outcomes = await self._matcher.outcomes(items)
            if any(outcome.events for outcome in outcomes):  # in the database before the
                await self._bus.written()  # records, and before the next batch matches
        for (received, data), item, outcome in zip(mail, items, outcomes, strict=True):
            recorded = record_kind(item.report)
            rows.append(self._row(received, len(data), recorded, item.auth, outcome))

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

    async def _authenticate(self, data: bytes, headers: AuthHeaders | None) -> AuthCheck | None:
        """The DKIM / Authentication-Results check; a failure to check is recorded, not
        fatal (it leaves an FBL report untrusted: docs/inbound-service.md)."""
        if self._resolver is None:
            return None
        try:
            return await check_authentication(data, self._resolver, headers=headers)
        except Exception:
            log.warning("event=inbound_auth_check_failed", exc_info=True)
            return None

    def _row(
        self, received: Received, size: int, kind: str, auth: AuthCheck | None, outcome: Outcome
    ) -> dict[str, Any]:
        dkim, authres = _auth_fields(auth)
        return dict(
            id=received.id,
            received_at=received.received_at,
            mail_from=received.mail_from[:254],
            rcpt=", ".join(received.rcpt_tos),
            kind=kind,
            dkim=dkim,
            authres=authres,
            message_id=outcome.message_id,
            account_id=outcome.account_id,
            events=outcome.events,
            note=outcome.note,
            size=size,
        )

    async def _record(self, rows: list[dict[str, Any]]) -> None:
        """One statement for the batch; a row already there (a batch processed again after
        a crash) is not written twice."""
        if not rows:
            return
        async with self._sessions() as session, session.begin():
            ids = [row["id"] for row in rows]
            there = set(await session.scalars(select(INBOUND.c.id).where(INBOUND.c.id.in_(ids))))
            fresh = [row for row in rows if row["id"] not in there]
            if fresh:
                await session.execute(insert(INBOUND), fresh)
        for row in rows:
            log.info(
                "event=inbound id=%s kind=%s from=%s rcpt=%s dkim=%s message_id=%s events=%s"
                " note=%r",
                row["id"],
                row["kind"],
                row["mail_from"] or "<>",
                row["rcpt"],
                row["dkim"],
                row["message_id"] or "-",
                ",".join(row["events"]) or "-",
                row["note"],
            )


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
