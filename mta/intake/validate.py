"""Pure checks on a send request: addresses, header values, content order, limits.

Each failure raises ValidationError with the SendGrid field path.
"""

from __future__ import annotations

import re

from mta.errors import ValidationError
from mta.intake.request import MailSend

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$")
# RFC 6531 addresses (SMTP envelopes with SMTPUTF8): UTF-8 beyond ASCII, minus the C1
# controls and the Unicode line and paragraph separators.
_UTF8 = "\u00a1-\u2027\u202a-\U0010ffff"
UTF8_EMAIL_RE = re.compile(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~{_UTF8}-]+@[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9.{_UTF8}-]{{0,251}})$"
)
HEADER_NAME_RE = re.compile(r"^[!-9;-~]+$")
RESERVED_HEADERS = frozenset(
    {
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "content-type",
        "content-transfer-encoding",
        "to",
        "from",
        "subject",
        "reply-to",
        "cc",
        "bcc",
    }
)
MAX_RECIPIENTS = 1000
MAX_PERSONALIZATIONS = 1000
MAX_CATEGORIES = 10


def check_email(email: str, field: str, *, utf8: bool = False) -> str:
    """A plain `local@domain` address with a sane domain; returned with the domain lower-cased.
    With `utf8` (an SMTPUTF8 envelope) the address may hold UTF-8 and an IDN domain."""
    local, _, domain = email.rpartition("@")
    if (
        not (UTF8_EMAIL_RE if utf8 else EMAIL_RE).fullmatch(email)
        or ".." in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or "." not in domain
        or not _encodable(domain)
    ):
        raise ValidationError("Does not contain a valid address.", field=field)
    return f"{local}@{domain.lower()}"


def _encodable(domain: str) -> bool:
    """An ASCII domain, or an IDN in the form IDNA gives back (nothing it maps away, such
    as a soft hyphen, which would make two spellings of one domain)."""
    if domain.isascii():
        return True
    try:
        return domain.encode("idna").decode("idna").lower() == domain.lower()
    except UnicodeError:
        return False


def check_text(value: str, field: str) -> None:
    """No CR, LF or NUL in anything that becomes a header."""
    if any(char in value for char in "\r\n\0"):
        raise ValidationError("Header values may not contain CR, LF or NUL.", field=field)


def check_headers(headers: dict[str, str], field: str) -> None:
    for name, value in headers.items():
        if not HEADER_NAME_RE.fullmatch(name):
            raise ValidationError(f"Invalid header name {name!r}.", field=f"{field}.{name}")
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                f"The header {name} is reserved and may not be set.", field=f"{field}.{name}"
            )
        check_text(value, f"{field}.{name}")


def check_content(request: MailSend) -> None:
    types = [item.type.lower() for item in request.content]
    for index, item in enumerate(request.content):
        if not item.value:
            raise ValidationError(
                "The content value must be at least one character.", field=f"content.{index}.value"
            )
    for kind in ("text/plain", "text/html"):
        if types.count(kind) > 1:
            raise ValidationError(f"The content type {kind} may only appear once.", field="content")
    if (
        "text/plain" in types
        and "text/html" in types
        and types.index("text/plain") > types.index("text/html")
    ):
        raise ValidationError(
            "If present, text/plain content must be first, followed by text/html.", field="content"
        )
    if not request.content and not request.template_id:
        raise ValidationError(
            "Unless a valid template_id is provided, the content parameter is required.",
            field="content",
        )


def check_request(request: MailSend) -> None:
    """Every structural rule that needs no database."""
    if not request.personalizations:
        raise ValidationError(
            "The personalizations field must contain at least one item.", field="personalizations"
        )
    if len(request.personalizations) > MAX_PERSONALIZATIONS:
        raise ValidationError(
            "The personalizations field may contain at most 1000 items.", field="personalizations"
        )
    request.from_.email = check_email(request.from_.email, "from.email")
    check_text(request.from_.name or "", "from.name")
    if request.reply_to is not None:
        request.reply_to.email = check_email(request.reply_to.email, "reply_to.email")
        check_text(request.reply_to.name or "", "reply_to.name")
    check_text(request.subject or "", "subject")
    check_headers(request.headers, "headers")
    if len(request.categories) > MAX_CATEGORIES:
        raise ValidationError("Too many categories (at most 10).", field="categories")
    for index, category in enumerate(request.categories):
        check_text(category, f"categories.{index}")
    check_content(request)
    _check_recipients(request)
    if (
        request.subject is None
        and not request.template_id
        and any(p.subject is None for p in request.personalizations)
    ):
        raise ValidationError("The subject is required.", field="subject")


def _check_recipients(request: MailSend) -> None:
    seen: set[str] = set()
    for p_index, personalization in enumerate(request.personalizations):
        path = f"personalizations.{p_index}"
        if not personalization.to:
            raise ValidationError(
                "The to array is required for all personalization objects, "
                "and must have at least one email object with a valid email "
                "address.",
                field=f"{path}.to",
            )
        check_text(personalization.subject or "", f"{path}.subject")
        check_headers(personalization.headers, f"{path}.headers")
        for kind in ("to", "cc", "bcc"):
            for index, address in enumerate(getattr(personalization, kind)):
                field = f"{path}.{kind}.{index}.email"
                address.email = check_email(address.email, field)
                check_text(address.name or "", f"{path}.{kind}.{index}.name")
                if address.email.lower() in seen:
                    raise ValidationError(
                        "Each email address in the personalization block should be unique.",
                        field=field,
                    )
                seen.add(address.email.lower())
    if len(seen) > MAX_RECIPIENTS:
        raise ValidationError(
            "The total number of recipients must be no more than 1000.", field="personalizations"
        )
