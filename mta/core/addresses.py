"""Email addresses as every part of the core checks and splits them: a sane `local@domain`
(UTF-8 where the envelope allows it), the domain of an address, an IDN domain in ASCII."""

from __future__ import annotations

import re

from mta.core.errors import ValidationError

EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251})$")
# RFC 6531 addresses (SMTP envelopes with SMTPUTF8): UTF-8 beyond ASCII, minus the C1
# controls and the Unicode line and paragraph separators.
_UTF8 = "\u00a1-\u2027\u202a-\U0010ffff"
UTF8_EMAIL_RE = re.compile(
    rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~{_UTF8}-]+@[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9.{_UTF8}-]{{0,251}})$"
)
MAX_EMAIL_LENGTH = 320


def check_email(email: str, field: str, *, utf8: bool = False, kind: str = "") -> str:
    """A plain `local@domain` address with a sane domain; returned with the domain lower-cased.
    With `utf8` (an SMTPUTF8 envelope) the address may hold UTF-8 and an IDN domain."""
    if kind and len(email) > MAX_EMAIL_LENGTH:
        raise ValidationError(
            f"The {kind} email exceeds the maximum total length of 320 characters", field=field
        )
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


def ascii_domain(domain: str) -> str:
    """An IDN domain as IDNA's A-labels (xn--…): deliverable and writable in any header."""
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def domain_of(address: str) -> str:
    """The domain of `local@domain`, lower-cased."""
    return address.rpartition("@")[2].lower()
