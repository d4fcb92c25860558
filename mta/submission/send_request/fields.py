"""Field-level checks every part of a send request shares: addresses, text bound for a
header, header maps. Each failure raises ValidationError naming the field."""

from __future__ import annotations

import re
from email.header import decode_header

from mta.core.addresses import ascii_domain, check_email
from mta.core.errors import ValidationError
from mta.submission.send_request.request import Address

HEADER_NAME_RE = re.compile(r"^[!-9;-~]+$")
# What may never reach a header: C0 controls but TAB (CR, LF, NUL among them), and the
# characters Python's str.splitlines() also breaks lines at (NEL, LINE/PARAGRAPH SEPARATOR).
BREAKING_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
MIME_TYPE_RE = re.compile(r"^[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}$", re.A)
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
        # ours: the message has exactly one of each, and we write them
        "return-path",  # the envelope's, written by the MTA that delivers (RFC 5321 §4.4)
        "date",
        "message-id",
        "mime-version",
        "x-scaisend-message-id",
    }
)
BREAKING = "may not contain CR, LF, NUL, other control characters or Unicode line separators."


def check_text(value: str, field: str, what: str = "Header values") -> None:
    """Nothing in text that becomes a header may break its line, not even once an RFC 2047
    encoded word in it is decoded (`=?utf-8?q?a=0D=0ABcc:…?=`)."""
    if BREAKING_RE.search(value) or ("=?" in value and BREAKING_RE.search(_decoded(value))):
        raise ValidationError(f"{what} {BREAKING}", field=field)


def _decoded(value: str) -> str:
    """The text of the encoded words in `value` as a reader would see it (bytes its charset
    cannot decode replaced; an unknown charset read as latin-1)."""
    try:
        parts = decode_header(value)
    except (ValueError, LookupError, UnicodeError):
        return ""
    return "".join(_text(part, charset) for part, charset in parts)


def _text(part: str | bytes, charset: str | None) -> str:
    if isinstance(part, str):
        return part
    try:
        return part.decode(charset or "latin-1", "replace")
    except LookupError:
        return part.decode("latin-1")


def check_headers(headers: dict[str, str], field: str) -> None:
    seen: set[str] = set()
    for name, value in headers.items():
        path = f"{field}.{name}"
        if not HEADER_NAME_RE.fullmatch(name):
            raise ValidationError(
                "Header keys cannot contain non-ASCII characters or empty spaces.", field=path
            )
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                f"The header {name} is reserved: header cannot be one of the reserved keys.",
                field=path,
            )
        if name.lower() in seen:
            raise ValidationError("The headers cannot contain duplicate keys.", field=path)
        seen.add(name.lower())
        check_text(value, path)


def check_address(address: Address, field: str, kind: str) -> None:
    """The address's email (domain lower-cased, an IDN domain in its ASCII form, in place)
    and a name fit for a header. A UTF-8 local part is kept: such a message goes out only
    to hops that speak SMTPUTF8, and bounces (5.6.7) elsewhere."""
    email = check_email(address.email, f"{field}.email", utf8=True, kind=kind)
    local, _, domain = email.rpartition("@")
    address.email = f"{local}@{ascii_domain(domain)}"  # a UTF-8 local part needs SMTPUTF8
    check_text(address.name or "", f"{field}.name", "Names")
