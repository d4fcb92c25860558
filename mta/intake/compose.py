"""Turn one personalization of a send request into signed message bytes (pure: no I/O).

Rendering picks the template version's parts or the request's content; the message is
built with the `email` package and DKIM-signed last.
"""

from __future__ import annotations

import msgspec

from mta.db.models import Domain
from mta.errors import ValidationError
from mta.intake.mime import build_message
from mta.intake.render import render
from mta.intake.request import MailSend, Personalization
from mta.intake.signing import SignerCache
from mta.services.templates import VersionView


class Rendered(msgspec.Struct):
    subject: str
    text: str | None
    html: str | None


def render_parts(
    request: MailSend, personalization: Personalization, version: VersionView | None
) -> Rendered:
    """Subject, text and html for one personalization (template parts win when present)."""
    subject = personalization.subject or request.subject or ""
    if version is None:
        by_type = {item.type.lower(): item.value for item in request.content}
        return Rendered(subject, by_type.get("text/plain"), by_type.get("text/html"))
    data, tid = personalization.dynamic_template_data, version.template_id

    def part(source: str, name: str) -> str | None:
        return render(source, data, template_id=tid, part=name) if source else None

    return Rendered(
        part(version.subject, "subject") or subject,
        part(version.plain_content, "plain_content"),
        part(version.html_content, "html_content"),
    )


def sign_for(signers: SignerCache, domain: Domain, message: bytes) -> bytes:
    """The message signed with the domain's key (the parsed key is kept in `signers`)."""
    signer = signers.get(domain.domain, domain.dkim_selector, domain.dkim_private_key)
    return signer.sign(message)


def compose(
    request: MailSend,
    personalization: Personalization,
    rendered: Rendered,
    *,
    domain: Domain,
    message_id: str,
    queue_id: str,
) -> bytes:
    """The message for one personalization, not yet signed."""
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
        domain=domain.domain,
    )


def recipients_of(personalization: Personalization) -> list[str]:
    """Envelope recipients: to, cc and bcc (bcc never appears in a header)."""
    kinds = (personalization.to, personalization.cc, personalization.bcc)
    return [address.email for kind in kinds for address in kind]
