"""What the pipeline spools for each message: the parts of one request, where a message came
from (for the message log), and its queue envelope."""

from __future__ import annotations

import msgspec

from mta.db.models import Domain
from mta.services.identity import Principal
from mta.services.templates import VersionView
from mta.submission.mime import MimeAttachment
from mta.submission.send_request.request import MailSend
from mta.submission.smtp_message.submitted import Submitted
from queue_store.entries import Envelope, QueueEntry


class Part(msgspec.Struct):
    """One spool entry with its signed content and the subject it was sent with."""

    entry: QueueEntry
    content: bytes
    subject: str


class Origin(msgspec.Struct, kw_only=True):
    """What the message log records about where a message came from."""

    from_email: str
    template_id: str | None = None
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)
    asm_group_id: int | None = None


class Job(msgspec.Struct, frozen=True):
    """What every personalization of one `/v3/mail/send` request shares."""

    principal: Principal
    request: MailSend
    version: VersionView | None
    attachments: list[MimeAttachment]
    message_id: str


def smtp_origin(submitted: Submitted, from_email: str) -> Origin:
    return Origin(
        from_email=from_email,
        categories=submitted.categories,
        custom_args=submitted.custom_args,
        asm_group_id=submitted.asm_group_id,
    )


def envelope_for(
    principal: Principal, domain: Domain | None, message_id: str, queue_id: str, origin: Origin
) -> Envelope:
    """The queue envelope; without a sender domain there is no VERP return path."""
    return Envelope(
        message_id=message_id,
        queue_id=queue_id,
        account_id=principal.account_id,
        sender=origin.from_email,
        sender_domain=domain.domain if domain else "",
        return_path_host=domain.return_path_host if domain else "",
        sandbox=principal.environment == "test",
        categories=origin.categories,
        custom_args=origin.custom_args,
        api_key_id=principal.api_key_id,
        asm_group_id=origin.asm_group_id,
    )
