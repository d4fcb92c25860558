"""Turn one personalization of a send request into message bytes (pure: no I/O): template
parts or the request's content, legacy substitutions, the footer, then MIME; signed last.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from mta.core.errors import ValidationError
from mta.db.models import Domain
from mta.handlebars.render import CompiledTemplates, render
from mta.services.templates import VersionView
from mta.submission.mime import MimeAttachment, build_message
from mta.submission.send_request.attachments import MAX_TOTAL_BYTES
from mta.submission.send_request.fields import check_text
from mta.submission.send_request.request import Address, Content, Footer, MailSend, Personalization
from mta.submission.send_request.substitutions import check_work, substitute, substitution_table
from mta.submission.send_request.validate import CONTENT_RANK, HTML, PLAIN, SUBJECT_REQUIRED
from mta.submission.signing import SignerCache
from mta.tracking.content import Plan, Tracker, plan_from, track_part, with_list_unsubscribe


class Rendered(msgspec.Struct):
    subject: str
    contents: list[Content]


def is_dynamic(template_id: str | None) -> bool:
    """SendGrid's rule: dynamic (Handlebars) template ids start with `d-`; the others are
    legacy templates, which take `substitutions`, `sections` and the `<%body%>` tags."""
    return template_id is not None and template_id.startswith("d-")


def render_parts(
    request: MailSend,
    personalization: Personalization,
    version: VersionView | None,
    index: int = 0,
    compiled: CompiledTemplates | None = None,
) -> Rendered:
    """Subject and contents for one personalization (template parts win when present)."""
    subject = personalization.subject or request.subject or ""
    contents = list(request.content)
    if version is not None:
        subject, contents = _template_parts(request, personalization, version, subject, compiled)
    substitutions, sections = personalization.substitutions, request.sections
    dynamic = is_dynamic(request.template_id)
    field = f"personalizations.{index}.substitutions"
    if not dynamic and (substitutions or sections):
        check_work(substitutions, sections, [subject, *(c.value for c in contents)], field)
    table = {} if dynamic else substitution_table(substitutions, sections)
    if table:
        subject = substitute(subject, table, limit=MAX_TOTAL_BYTES, field=field)
        contents = [
            Content(c.type, substitute(c.value, table, limit=MAX_TOTAL_BYTES, field=field))
            for c in contents
        ]
    return Rendered(subject, with_footer(contents, request.mail_settings.footer))


def _template_parts(
    request: MailSend,
    personalization: Personalization,
    version: VersionView,
    subject: str,
    compiled: CompiledTemplates | None,
) -> tuple[str, list[Content]]:
    """The template's subject, text and html (rendered with the personalization's
    dynamic_template_data); the request's content for what it lacks, in SendGrid's order.
    A legacy template's `<%subject%>` and `<%body%>` take the request's subject and body."""
    data, tid, vid = personalization.dynamic_template_data, version.template_id, version.id
    merged = {c.type.lower(): c.value for c in request.content}

    def part(source: str, name: str, tag: str, fill: str) -> str | None:
        if not source:
            return None
        rendered = render(source, data, template_id=tid, version=vid, part=name, compiled=compiled)
        return rendered if is_dynamic(tid) else rendered.replace(tag, fill)

    own_subject = part(version.subject, "subject", "<%subject%>", subject)
    for kind, source, name in (
        (PLAIN, version.plain_content, "plain_content"),
        (HTML, version.html_content, "html_content"),
    ):
        value = part(source, name, "<%body%>", merged.get(kind, ""))
        if value:
            merged[kind] = value
    ordered = sorted(merged.items(), key=lambda item: CONTENT_RANK.get(item[0], 2))
    return own_subject or subject, [Content(kind, value) for kind, value in ordered]


def with_footer(contents: list[Content], footer: Footer | None) -> list[Content]:
    """mail_settings.footer: its text after the text/plain body, its html before the html
    body's closing </body> (or after it)."""
    if footer is None or not footer.enable:
        return contents
    out = []
    for item in contents:
        kind, value = item.type.lower(), item.value
        if kind == PLAIN and footer.text:
            value = f"{value}\n\n{footer.text}"
        elif kind == HTML and footer.html:
            end = value.lower().rfind("</body>")
            value = value + footer.html if end < 0 else value[:end] + footer.html + value[end:]
        out.append(Content(item.type, value))
    return out


def sign_for(signers: SignerCache, domain: Domain, message: bytes) -> bytes:
    """The message signed with the domain's key (the parsed key is kept in `signers`)."""
    signer = signers.get(domain.domain, domain.dkim_selector, domain.dkim_private_key)
    return signer.sign(message)


def merged_headers(request: MailSend, personalization: Personalization) -> dict[str, str]:
    """The request's headers with the personalization's over them (names case-insensitive)."""
    own = {name.lower() for name in personalization.headers}
    kept = {k: v for k, v in request.headers.items() if k.lower() not in own}
    return {**kept, **personalization.headers}


def compose(
    request: MailSend,
    personalization: Personalization,
    rendered: Rendered,
    *,
    domain: Domain,
    message_id: str,
    queue_id: str,
    index: int = 0,
    attachments: Sequence[MimeAttachment] = (),
    tracker: Tracker | None = None,
    recipient_index: int = 0,
) -> bytes:
    """The message for one personalization, not yet signed. Its subject is checked again:
    substitutions and template data may have put a line break in it. With a `tracker`, the
    tracking the request asks for (links speak of recipient `recipient_index`)."""
    if not rendered.subject:
        raise ValidationError(SUBJECT_REQUIRED, field="subject")
    source = "dynamic_template_data" if request.template_id else "substitutions"
    check_text(rendered.subject, f"personalizations.{index}.{source}", "The subject")
    reply_to = [request.reply_to] if request.reply_to else request.reply_to_list
    host = domain.return_path_host
    plan = plan_for(request, message_id, recipient_index, host) if tracker else None
    headers = with_list_unsubscribe(merged_headers(request, personalization), tracker, plan)
    return build_message(
        sender=sender_of(request, personalization),
        to=personalization.to,
        cc=personalization.cc,
        reply_to=reply_to,
        subject=rendered.subject,
        contents=apply_tracking(tracker, plan, rendered.contents),
        attachments=attachments,
        headers=headers,
        message_id=message_id,
        queue_id=queue_id,
        domain=domain.domain,
    )


def sender_of(request: MailSend, personalization: Personalization) -> Address:
    """A personalization's own `from` wins over the request's."""
    return personalization.from_ or request.from_


def recipients_of(personalization: Personalization) -> list[str]:
    """Envelope recipients: to, cc and bcc (bcc never appears in a header)."""
    kinds = (personalization.to, personalization.cc, personalization.bcc)
    return [address.email for kind in kinds for address in kind]


def plan_for(
    request: MailSend, message_id: str, recipient_index: int, return_path_host: str
) -> Plan | None:
    """The request's tracking for one personalization's message; None when it asks for none
    (the common case costs nothing more)."""
    group = request.asm.group_id if request.asm is not None else None
    return plan_from(
        request.tracking_settings, group, message_id, recipient_index, return_path_host
    )


def apply_tracking(
    tracker: Tracker | None, plan: Plan | None, contents: list[Content]
) -> list[Content]:
    """Each text and html part with its links rewritten, footer and pixel added, as asked."""
    if tracker is None or plan is None:
        return contents
    return [Content(c.type, track_part(tracker, plan, c.type, c.value)) for c in contents]
