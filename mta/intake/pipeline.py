"""The intake pipeline: authorise the sender, render, build MIME, DKIM-sign, spool, log.

Both `POST /v3/mail/send` (`send`) and SMTP submission (`submit_smtp`) end here; a message
is acknowledged only after every spool write for it has completed.
"""

from __future__ import annotations

import asyncio
import time
from email.utils import getaddresses
from typing import Protocol

import msgspec

from mta.db.models import Domain
from mta.errors import PermissionDenied, ValidationError
from mta.events.bus import EventBus, MessageLogEntry
from mta.events.model import Processed
from mta.intake.mime import build_message, header_values, stamp_submitted
from mta.intake.render import render
from mta.intake.request import MailSend, Personalization
from mta.intake.signing import dkim_sign
from mta.intake.validate import check_email, check_request
from mta.model import Envelope, QueueEntry, RecipientState, new_id
from mta.services.domains import DomainService
from mta.services.identity import Principal
from mta.services.templates import TemplateService, VersionView
from queue_store import QueueStore

UNVERIFIED_SENDER = (
    "The from address does not match a verified Sender Identity. Mail cannot "
    "be sent until this error is resolved."
)


class Enqueuer(Protocol):
    def enqueue(self, entry: QueueEntry) -> None: ...


class Rendered(msgspec.Struct):
    subject: str
    text: str | None
    html: str | None


class Intake:
    def __init__(
        self,
        store: QueueStore,
        scheduler: Enqueuer,
        bus: EventBus,
        domains: DomainService,
        templates: TemplateService,
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._bus = bus
        self._domains = domains
        self._templates = templates

    async def authorise_sender(self, principal: Principal, address: str, field: str) -> Domain:
        """The account's domain for `address`; live keys need it verified."""
        principal.require("mail.send")
        domain = address.rpartition("@")[2].lower()
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

    async def send(self, principal: Principal, request: MailSend) -> str:
        check_request(request)
        domain = await self.authorise_sender(principal, request.from_.email, "from")
        version = None
        if request.template_id:
            version = await self._templates.active_version(
                principal.account_id, request.template_id
            )
        message_id = new_id()
        entries: list[QueueEntry] = []
        contents: list[bytes] = []
        recipients: list[tuple[int, str]] = []
        for p_index, personalization in enumerate(request.personalizations):
            rendered = self._render(request, personalization, version)
            queue_id = f"{message_id}-{p_index}"
            content = dkim_sign(
                self._build(
                    request, personalization, rendered, message_id, queue_id, domain.domain
                ),
                domain=domain.domain,
                selector=domain.dkim_selector,
                private_key_pem=domain.dkim_private_key,
            )
            emails = [
                a.email
                for kind in (personalization.to, personalization.cc, personalization.bcc)
                for a in kind
            ]
            states = [
                RecipientState(email=email, index=len(recipients) + i)
                for i, email in enumerate(emails)
            ]
            recipients.extend((state.index, state.email) for state in states)
            custom_args = {**request.custom_args, **personalization.custom_args}
            envelope = self._envelope(
                principal,
                domain,
                message_id,
                queue_id,
                request.from_.email,
                request.categories,
                custom_args,
            )
            entries.append(QueueEntry(envelope=envelope, recipients=states))
            contents.append(content)
            if p_index == 0:
                subject = rendered.subject
        await self._spool(entries, contents)
        self._record(
            principal,
            entries,
            MessageLogEntry(
                message_id=message_id,
                account_id=principal.account_id,
                api_key_id=principal.api_key_id,
                from_email=request.from_.email,
                subject=subject,
                template_id=request.template_id,
                categories=request.categories,
                custom_args=request.custom_args,
                sandbox=principal.environment == "test",
                recipients=recipients,
                created_at=time.time(),
            ),
        )
        return message_id

    async def _spool(self, entries: list[QueueEntry], contents: list[bytes]) -> None:
        """Store every part durably, or none: a partial failure removes what was written."""
        results = await asyncio.gather(
            *(
                self._store.put(entry, content)
                for entry, content in zip(entries, contents, strict=True)
            ),
            return_exceptions=True,
        )
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is None:
            return
        for entry, result in zip(entries, results, strict=True):
            if not isinstance(result, BaseException):
                await self._store.remove(entry.envelope.queue_id)
        raise failure

    async def submit_smtp(
        self, principal: Principal, mail_from: str, rcpt_tos: list[str], data: bytes
    ) -> str:
        headers = header_values(data)
        header_from = [addr for _, addr in getaddresses([headers.get("from", "")]) if addr]
        if len(header_from) != 1:
            raise ValidationError("The message needs exactly one From: address", field="from")
        domain = await self.authorise_sender(principal, header_from[0], "from")
        if mail_from and mail_from.rpartition("@")[2].lower() != domain.domain:
            await self.authorise_sender(principal, mail_from, "mail_from")
        message_id = new_id()
        states = [
            RecipientState(email=check_email(rcpt, f"rcpt.{i}"), index=i)
            for i, rcpt in enumerate(rcpt_tos)
        ]
        content = dkim_sign(
            stamp_submitted(data, message_id=message_id, domain=domain.domain, present=headers),
            domain=domain.domain,
            selector=domain.dkim_selector,
            private_key_pem=domain.dkim_private_key,
        )
        envelope = self._envelope(principal, domain, message_id, message_id, header_from[0], [], {})
        entry = QueueEntry(envelope=envelope, recipients=states)
        await self._spool([entry], [content])
        self._record(
            principal,
            [entry],
            MessageLogEntry(
                message_id=message_id,
                account_id=principal.account_id,
                api_key_id=principal.api_key_id,
                from_email=header_from[0],
                subject=headers.get("subject", ""),
                template_id=None,
                categories=[],
                custom_args={},
                sandbox=principal.environment == "test",
                recipients=[(s.index, s.email) for s in states],
                created_at=time.time(),
            ),
        )
        return message_id

    @staticmethod
    def _envelope(
        principal: Principal,
        domain: Domain,
        message_id: str,
        queue_id: str,
        sender: str,
        categories: list[str],
        custom_args: dict[str, str],
    ) -> Envelope:
        return Envelope(
            message_id=message_id,
            queue_id=queue_id,
            account_id=principal.account_id,
            sender=sender,
            sender_domain=domain.domain,
            return_path_host=domain.return_path_host,
            sandbox=principal.environment == "test",
            categories=categories,
            custom_args=custom_args,
        )

    def _record(
        self, principal: Principal, entries: list[QueueEntry], log_entry: MessageLogEntry
    ) -> None:
        """Log the message, emit processed per recipient, hand the entries to the scheduler."""
        self._bus.accepted(log_entry)
        for entry in entries:
            env = entry.envelope
            for state in entry.recipients:
                self._bus.emit(
                    Processed(
                        account_id=principal.account_id,
                        message_id=env.message_id,
                        email=state.email,
                        recipient_index=state.index,
                        categories=env.categories,
                        custom_args=env.custom_args,
                    )
                )
            self._scheduler.enqueue(entry)

    @staticmethod
    def _render(
        request: MailSend, personalization: Personalization, version: VersionView | None
    ) -> Rendered:
        subject = personalization.subject or request.subject or ""
        if version is None:
            by_type = {item.type.lower(): item.value for item in request.content}
            return Rendered(subject, by_type.get("text/plain"), by_type.get("text/html"))
        data, tid = personalization.dynamic_template_data, version.template_id
        return Rendered(
            render(version.subject, data, template_id=tid, part="subject") or subject,
            render(version.plain_content, data, template_id=tid, part="plain_content")
            if version.plain_content
            else None,
            render(version.html_content, data, template_id=tid, part="html_content")
            if version.html_content
            else None,
        )

    @staticmethod
    def _build(
        request: MailSend,
        personalization: Personalization,
        rendered: Rendered,
        message_id: str,
        queue_id: str,
        domain: str,
    ) -> bytes:
        if not rendered.subject:
            raise ValidationError("The subject is required.", field="subject")
        return build_message(
            sender=request.from_,
            to=personalization.to,
            cc=personalization.cc,
            reply_to=request.reply_to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            headers={**request.headers, **personalization.headers},
            message_id=message_id,
            queue_id=queue_id,
            domain=domain,
        )
