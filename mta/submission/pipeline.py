"""The intake pipeline: authorise the sender, render, build MIME, DKIM-sign, spool, log.

Both `POST /v3/mail/send` (`send`) and SMTP submission (`submit_smtp`) end here; a message
is acknowledged only after every spool write for it has completed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from mta.core.addresses import domain_of
from mta.core.clock import Clock, SystemClock
from mta.core.errors import PermissionDenied, StorageUnavailable, ValidationError
from mta.core.events import Processed, about
from mta.core.model import SessionTrace, new_id
from mta.db.models import Domain
from mta.events.bus import EventBus, MessageLogEntry
from mta.handlebars.budget import RenderLimits
from mta.handlebars.render import CompiledTemplates
from mta.services.domains import DomainService
from mta.services.identity import Principal
from mta.services.templates import TemplateService, VersionView
from mta.submission.envelope import Job, Origin, Part, envelope_for, smtp_origin
from mta.submission.preview import Preview, PreviewSource, preview_version
from mta.submission.schedule import BatchCheck, check_schedule, require_batch, schedule, send_time
from mta.submission.send_request.attachments import check_total_size, prepare_attachments
from mta.submission.send_request.build_budget import (
    BuildBudget,
    BuildLimits,
    check_expected_size,
)
from mta.submission.send_request.compose import (
    Rendered,
    compose,
    recipients_of,
    render_parts,
    sender_of,
    sign_for,
)
from mta.submission.send_request.request import MailSend, is_sandbox
from mta.submission.send_request.validate import check_request
from mta.submission.signing import SignerCache
from mta.submission.smtp_message.copies import smtp_copies
from mta.submission.smtp_message.submitted import (
    Submitted,
    envelope_recipients,
    stamp,
    take_submitted,
)
from mta.submission.suppressed import NO_BYPASS, Bypass, Lookup, bypass_from, bypass_of, screen
from mta.tracking.content import Tracker
from queue_store import QueueStore, SpoolUnavailable
from queue_store.entries import Envelope, QueueEntry, RecipientState

log = logging.getLogger(__name__)
PREVIEW_CACHE = 16
UNVERIFIED_SENDER = (
    "The from address does not match a verified Sender Identity. Mail cannot "
    "be sent until this error is resolved."
)


class Enqueuer(Protocol):
    def enqueue(self, entry: QueueEntry, content: bytes | None = None) -> None: ...


class Intake:
    def __init__(
        self,
        store: QueueStore,
        scheduler: Enqueuer,
        bus: EventBus,
        domains: DomainService,
        templates: TemplateService,
        batches: BatchCheck | None = None,
        suppressions: Lookup | None = None,
        tracker: Tracker | None = None,
        clock: Clock | None = None,
        render_limits: RenderLimits | None = None,
        build_limits: BuildLimits | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._batches = batches
        self._suppressions = suppressions
        self._tracker = tracker
        self._store = store
        self._scheduler = scheduler
        self._bus = bus
        self._domains = domains
        self._templates = templates
        self._signers = SignerCache()
        self._compiled = CompiledTemplates(limits=render_limits)
        # Previews have their own few: an editor's every keystroke must not evict sends'.
        self._previews = CompiledTemplates(size=PREVIEW_CACHE, limits=render_limits)
        self._build_limits = build_limits or BuildLimits()

    async def preview(self, source: PreviewSource) -> Preview:
        """A version's parts rendered with its test data as a send would render them, within
        the same render limits, in a worker thread (the dashboard's template preview)."""
        return await asyncio.to_thread(preview_version, source, self._previews)

    async def authorise_sender(self, principal: Principal, address: str, field: str) -> Domain:
        """The account's domain for `address`; live keys need it verified."""
        principal.require("mail.send")
        domain = domain_of(address)
        row = await self._domains.sending_domain(principal.account_id, domain)
        if row is None:
            raise PermissionDenied(UNVERIFIED_SENDER, field=field)
        if not row.verified and principal.environment == "live":
            raise PermissionDenied(
                f"The from address domain {domain} is not verified yet: publish its DNS "
                f"records and call POST /api/admin/domains/{row.id}/verify, or use a test key.",
                field=field,
            )
        return row

    async def send(self, principal: Principal, request: MailSend) -> str | None:
        """Accept a `/v3/mail/send` request: one spool entry per personalization. In sandbox
        mode everything is checked and built but nothing is queued, and the answer is None."""
        check_request(request)
        attachments = prepare_attachments(request.attachments)
        check_total_size(request, attachments)
        check_expected_size(self._build_limits, request, attachments)
        now = self._clock.time()
        check_schedule(request, now)
        domains = await self._sending_domains(principal, request)
        await require_batch(self._batches, principal.account_id, request.batch_id)
        await self._require_group(principal, request.asm.group_id if request.asm else None)
        version = await self._version(principal, request)
        job = Job(principal, request, version, attachments, new_id())
        parts: list[Part] = []
        first = 0  # recipients are numbered across the whole request
        budget = BuildBudget(self._build_limits, self._clock.monotonic())
        for p_index, personalization in enumerate(request.personalizations):
            domain = domains[domain_of(sender_of(request, personalization).email)]
            part = await self._personalization(job, p_index, domain, first)
            budget.charge(p_index, len(part.content), self._clock.monotonic())
            schedule(part.entry, send_time(request, personalization), request.batch_id, now)
            parts.append(part)
            first += len(part.entry.recipients)
        if is_sandbox(request):
            return None
        origin = Origin(
            from_email=request.from_.email,
            template_id=request.template_id,
            categories=request.categories,
            custom_args=request.custom_args,
        )
        await self._accept(principal, parts, origin, bypass_of(request))
        return job.message_id

    async def _personalization(self, job: Job, index: int, domain: Domain, first: int) -> Part:
        """One personalization's message (signed unless in sandbox mode) and spool entry;
        its recipients are numbered on from `first`. Rendering and building run in a
        worker thread: the event loop keeps answering meanwhile."""
        request, personalization = job.request, job.request.personalizations[index]
        queue_id = f"{job.message_id}-{index}"
        rendered, message = await asyncio.to_thread(
            self._build, job, index, domain, queue_id, first
        )
        content = message if is_sandbox(request) else await self._sign(domain, message)
        states = [
            RecipientState(email=email, index=first + i)
            for i, email in enumerate(recipients_of(personalization))
        ]
        origin = Origin(
            from_email=sender_of(request, personalization).email,
            categories=request.categories,
            custom_args={**request.custom_args, **personalization.custom_args},
            asm_group_id=request.asm.group_id if request.asm else None,
        )
        envelope = envelope_for(job.principal, domain, job.message_id, queue_id, origin)
        return Part(QueueEntry(envelope=envelope, recipients=states), content, rendered.subject)

    def _build(
        self, job: Job, index: int, domain: Domain, queue_id: str, first: int
    ) -> tuple[Rendered, bytes]:
        """The rendered parts and message bytes of one personalization (pure CPU work)."""
        request, personalization = job.request, job.request.personalizations[index]
        rendered = render_parts(request, personalization, job.version, index, self._compiled)
        message = compose(
            request,
            personalization,
            rendered,
            domain=domain,
            message_id=job.message_id,
            queue_id=queue_id,
            index=index,
            attachments=job.attachments,
            tracker=self._tracker,
            recipient_index=first,
        )
        return rendered, message

    async def _sending_domains(self, principal: Principal, request: MailSend) -> dict[str, Domain]:
        """The account's domain for the request's `from` and for every personalization's own
        `from`, by domain name; each must be authorised like the first."""
        senders = [("from", request.from_)] + [
            (f"personalizations.{i}.from", p.from_)
            for i, p in enumerate(request.personalizations)
            if p.from_ is not None
        ]
        found: dict[str, Domain] = {}
        for field, address in senders:
            name = domain_of(address.email)
            if name not in found:
                found[name] = await self.authorise_sender(principal, address.email, field)
        return found

    async def submit_smtp(
        self,
        principal: Principal,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        trace: SessionTrace,
    ) -> str:
        """Accept one SMTP transaction: the client's bytes, stamped and signed."""
        submitted = take_submitted(data, self._clock.time())
        header_from = submitted.header_from
        if len(header_from) != 1:
            raise ValidationError("The message needs exactly one From: address", field="from")
        domain = await self.authorise_sender(principal, header_from[0], "from")
        await self._require_group(principal, submitted.asm_group_id)
        if mail_from and mail_from.rpartition("@")[2].lower() != domain.domain:
            await self.authorise_sender(principal, mail_from, "mail_from")
        message_id = new_id()
        stamped = stamp(submitted, trace, message_id, domain.domain)
        origin = smtp_origin(submitted, header_from[0])
        envelope = envelope_for(principal, domain, message_id, message_id, origin)
        await self._submitted(principal, envelope, origin, submitted, stamped, rcpt_tos, domain)
        return message_id

    async def submit_relayed(
        self,
        principal: Principal,
        mail_from: str,
        rcpt_tos: list[str],
        data: bytes,
        trace: SessionTrace,
    ) -> str:
        """Accept mail from a trusted network: signed and VERP-addressed when the account
        owns the From domain, otherwise passed on with the client's own envelope sender."""
        submitted = take_submitted(data, self._clock.time())
        header_from = submitted.header_from
        domain = None
        if len(header_from) == 1:
            domain = await self._domains.sending_domain(
                principal.account_id, header_from[0].rpartition("@")[2]
            )
        message_id = new_id()
        stamped = stamp(submitted, trace, message_id, domain.domain if domain else "relay.invalid")
        origin = smtp_origin(submitted, header_from[0] if header_from else mail_from)
        envelope = envelope_for(principal, domain, message_id, message_id, origin)
        envelope.sender = mail_from
        await self._submitted(principal, envelope, origin, submitted, stamped, rcpt_tos, domain)
        return message_id

    async def _submitted(
        self,
        principal: Principal,
        envelope: Envelope,
        origin: Origin,
        submitted: Submitted,
        stamped: bytes,
        rcpt_tos: list[str],
        domain: Domain | None,
    ) -> None:
        """Spool an SMTP message as its copies (X-SMTPAPI filters applied), each signed when
        its sender domain is the account's, with the filters' bypass settings."""
        states = envelope_recipients(rcpt_tos)
        copies = smtp_copies(
            self._tracker, submitted, stamped, envelope, states, self._clock.time()
        )
        if len(copies) == 1:  # the usual case: no task per message
            contents = [await self._signed(domain, copies[0].data)]
        else:
            contents = await asyncio.gather(*(self._signed(domain, c.data) for c in copies))
        subject = submitted.headers.get("subject", "")
        parts = [Part(c.entry, data, subject) for c, data in zip(copies, contents, strict=True)]
        await self._accept(principal, parts, origin, bypass_from(submitted.settings.mail))

    async def _signed(self, domain: Domain | None, message: bytes) -> bytes:
        """Signed when the sender domain is the account's; a relayed message from another
        domain is passed on unsigned."""
        return await self._sign(domain, message) if domain else message

    async def _sign(self, domain: Domain, message: bytes) -> bytes:
        """DKIM-sign in a worker thread: the RSA operation releases the GIL, so signing
        runs on another core while the event loop goes on."""
        return await asyncio.to_thread(sign_for, self._signers, domain, message)

    async def _version(self, principal: Principal, request: MailSend) -> VersionView | None:
        if not request.template_id:
            return None
        return await self._templates.active_version(principal.account_id, request.template_id)

    async def _require_group(self, principal: Principal, group_id: int | None) -> None:
        if group_id is not None and self._suppressions is not None:
            await self._suppressions.require_group(principal.account_id, group_id)

    async def _accept(
        self, principal: Principal, parts: list[Part], origin: Origin, bypass: Bypass = NO_BYPASS
    ) -> None:
        """Spool every part, then log the message, emit processed and schedule delivery;
        suppressed recipients are logged and dropped, and a part left with none is not spooled."""
        screened = await screen(self._suppressions, [p.entry for p in parts], bypass)
        kept = [
            Part(entry, p.content, p.subject)
            for p, entry in zip(parts, screened.entries, strict=True)
            if entry.recipients
        ]
        await self._spool(kept)
        first = parts[0].entry.envelope
        self._bus.accepted(
            MessageLogEntry(
                message_id=first.message_id,
                account_id=principal.account_id,
                api_key_id=principal.api_key_id,
                from_email=origin.from_email,
                subject=parts[0].subject,
                template_id=origin.template_id,
                categories=origin.categories,
                custom_args=origin.custom_args,
                sandbox=first.sandbox,
                recipients=[(s.index, s.email) for p in parts for s in p.entry.recipients],
                created_at=self._clock.time(),
            )
        )
        for event in screened.dropped:
            self._bus.emit(event)
            log.info(
                "event=dropped message_id=%s rcpt_index=%d destination=%s reason=%r",
                event.message_id,
                event.recipient_index,
                domain_of(event.email),
                event.reason,
            )
        for part in kept:
            self._processed(part.entry)
            self._scheduler.enqueue(part.entry, part.content)

    def _processed(self, entry: QueueEntry) -> None:
        envelope, logged = entry.envelope, log.isEnabledFor(logging.INFO)
        at = int(self._clock.time())
        for state in entry.recipients:
            self._bus.emit(Processed(**about(envelope, state), timestamp=at))
            if logged:  # one line per event, as delivery logs its outcomes
                log.info(
                    "event=processed message_id=%s queue_id=%s rcpt_index=%d destination=%s",
                    envelope.message_id,
                    envelope.queue_id,
                    state.index,
                    domain_of(state.email),
                )

    async def _spool(self, parts: list[Part]) -> None:
        """Store every part durably, or none: a partial failure removes what was written."""
        results = await asyncio.gather(
            *(self._store.put(part.entry, part.content) for part in parts),
            return_exceptions=True,
        )
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is None:
            return
        for part, result in zip(parts, results, strict=True):
            if not isinstance(result, BaseException):
                await self._store.remove(part.entry.envelope.queue_id)
        if isinstance(failure, SpoolUnavailable):  # the core's name for it, at the edges
            raise StorageUnavailable(str(failure)) from failure
        raise failure


class RelaySubmitter:
    """The intake as the MX listener's trusted-network relay sees it: one fixed account."""

    def __init__(self, intake: Intake, principal: Principal) -> None:
        self._intake = intake
        self._principal = principal

    async def submit_relay(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, trace: SessionTrace
    ) -> str:
        return await self._intake.submit_relayed(self._principal, mail_from, rcpt_tos, data, trace)
