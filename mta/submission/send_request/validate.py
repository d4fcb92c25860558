"""Pure checks on a send request: addresses, header-bound text, content order, recipient limits.

Each failure raises ValidationError with the SendGrid field path and, where it has one, its words.
"""

from __future__ import annotations

from mta.core.errors import ValidationError
from mta.submission.send_request.fields import (
    BREAKING_RE,
    MIME_TYPE_RE,
    RESERVED_HEADERS,
    check_address,
    check_headers,
    check_text,
)
from mta.submission.send_request.options import MAX_CATEGORIES, check_options
from mta.submission.send_request.request import MailSend, Personalization

__all__ = [
    "MAX_CATEGORIES",
    "RESERVED_HEADERS",
    "check_content",
    "check_headers",
    "check_request",
    "check_text",
]

MAX_RECIPIENTS = 1000
MAX_PERSONALIZATIONS = 1000
PLAIN, AMP, HTML = "text/plain", "text/x-amp-html", "text/html"
# SendGrid's order: text/plain, then text/html (AMP, as Google asks, just before it), then
# any other type.
CONTENT_RANK = {PLAIN: 0, AMP: 1, HTML: 1}
ORDER = (
    "Following RFC 1341, section 7.2, if either text/html or text/plain are to be sent in "
    "your email: text/plain needs to be first, followed by text/html, followed by any other "
    "content."
)
SUBJECT_REQUIRED = (
    "The subject is required. You can get around this requirement if you use a template "
    "with a subject defined or if every personalization has a subject defined."
)
EMPTY_SUBJECT = "The subject of your email must be a string at least one character in length."


def check_content(request: MailSend) -> None:
    """Each content has a MIME type and a value; every type at most once, in SendGrid's order."""
    if not request.content and not request.template_id:
        raise ValidationError(
            "The content param is required unless you are using a transactional template "
            "and have defined a template_ID.",
            field="content",
        )
    seen: list[str] = []
    for index, item in enumerate(request.content):
        kind = _content_type(item.type, f"content.{index}.type")
        if not item.value:
            raise ValidationError(
                "The content value must be a string at least one character in length.",
                field=f"content.{index}.value",
            )
        if kind in seen:
            raise ValidationError(
                "If present, text/plain and text/html may only be provided once."
                if kind in (PLAIN, HTML)
                else f"The content type {kind} may only be provided once.",
                field=f"content.{index}.type",
            )
        if seen and CONTENT_RANK.get(seen[-1], 2) > CONTENT_RANK.get(kind, 2):
            raise ValidationError(ORDER, field="content")
        seen.append(kind)


def _content_type(value: str, field: str) -> str:
    if not value:
        raise ValidationError(
            "Your content type must be a string with length of at least one character.",
            field=field,
        )
    if ";" in value or BREAKING_RE.search(value):
        raise ValidationError("Cannot contain ';', or CRLF characters.", field=field)
    if not MIME_TYPE_RE.fullmatch(value):
        raise ValidationError(
            "The content type must be a MIME type such as text/plain or text/html.", field=field
        )
    return value.lower()


def check_request(request: MailSend) -> None:
    """Every structural rule that needs no database (attachments: see attachments.py)."""
    count = len(request.personalizations)
    if not count:
        raise ValidationError(
            "You must have at least one personalization.", field="personalizations"
        )
    if count > MAX_PERSONALIZATIONS:
        raise ValidationError(
            f"The personalization block is limited to 1000 personalizations per API request. "
            f"You have provided {count} personalizations. Please consider splitting this into "
            f"multiple requests and resending your request.",
            field="personalizations",
        )
    check_address(request.from_, "from", "From")
    if request.reply_to is not None:
        check_address(request.reply_to, "reply_to", "Reply-To")
    _check_subject(request.subject, "subject")
    check_headers(request.headers, "headers")
    check_content(request)
    check_options(request)
    _check_recipients(request)
    without = (p.subject is None for p in request.personalizations)
    if request.subject is None and not request.template_id and any(without):
        raise ValidationError(SUBJECT_REQUIRED, field="subject")


def _check_subject(subject: str | None, field: str) -> None:
    if subject is None:
        return
    if not subject:
        raise ValidationError(EMPTY_SUBJECT, field=field)
    check_text(subject, field, "The subject")


def _check_personalization(personalization: Personalization, path: str) -> None:
    if not personalization.to:
        raise ValidationError(
            "The to array is required for all personalization objects, "
            "and must have at least one email object with a valid email "
            "address.",
            field=f"{path}.to",
        )
    if personalization.from_ is not None:
        check_address(personalization.from_, f"{path}.from", "From")
    _check_subject(personalization.subject, f"{path}.subject")
    check_headers(personalization.headers, f"{path}.headers")


def _check_recipients(request: MailSend) -> None:
    seen: set[str] = set()
    for p_index, personalization in enumerate(request.personalizations):
        path = f"personalizations.{p_index}"
        _check_personalization(personalization, path)
        for kind, label in (("to", "To"), ("cc", "CC"), ("bcc", "BCC")):
            for index, address in enumerate(getattr(personalization, kind)):
                check_address(address, f"{path}.{kind}.{index}", label)
                key = address.email.lower()
                if key in seen:
                    raise ValidationError(
                        "Each email address in the personalization block should be unique "
                        "between to, cc, and bcc. We found the first duplicate instance of "
                        f"[{address.email}] in the {path}.{kind} field.",
                        field=f"{path}.{kind}.{index}.email",
                    )
                seen.add(key)
                if len(seen) > MAX_RECIPIENTS:
                    raise ValidationError(
                        "There is a limit of 1000 total recipients (to + cc + bcc) per request.",
                        field="personalizations",
                    )
