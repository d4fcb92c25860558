"""Turn the address fields of bounces and feedback reports into bare RFC 822 addr-specs
(pure): address types and transport prefixes, source routes, names, quotes and brackets go.

`dsn_address` reads a typed DSN field (RFC 3464 `address-type ; address`): only the mail
types (rfc822, utf-8) give an address, never X.400 or an MTA's own "system" type."""

from __future__ import annotations

import re
from email.utils import getaddresses

# "rfc822;", "SMTP:", "smtp=" ...: a transport or address type left before the address.
MAIL_PREFIX_RE = re.compile(r"^\s*(?:rfc822|utf-8|e?smtp|x-smtp|internet)\s*[;:=]\s*", re.I)
# RFC 3464 address-type: an atom before ";" (x400, x500, system, unknown ...).
ADDRESS_TYPE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.-]*)\s*;")
MAIL_TYPES = frozenset({"rfc822", "utf-8"})
# RFC 5321 source route before the mailbox: "@relay.example,@other.example:".
SOURCE_ROUTE_RE = re.compile(r"(?:@[^\s@,:<>]+,?)+:")
# A host name of two labels or more (RFC 1123 letters, digits, inner hyphens; IDN letters
# too), or an address literal. No underscore: "user@ims_daemon" is an MTA's internal name.
LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
DOMAIN_RE = re.compile(rf"(?:{LABEL}\.)+{LABEL}")
LITERAL_RE = re.compile(r"\[(?:IPv6:)?[0-9A-Fa-f:.]+\]")
LOCAL_RE = re.compile(r'[^\s@<>()\[\],;:"\\\x00-\x1f]+')
QUOTED_LOCAL_RE = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
STRAY_RE = re.compile(r"""^[\s<>"'(\[,;:]+|[\s<>"')\],;:.]+$""")
MAX_FIELD_CHARS = 1000


def bare_address(value: str) -> str:
    """The addr-spec in one address field (`Name <a@b>`, `<a@b>`, `'<a@b>'`, `SMTP:a@b`,
    `<@route:a@b>`) as written; "" when it holds no mail address."""
    text = value[:MAX_FIELD_CHARS].strip()
    while match := MAIL_PREFIX_RE.match(text):
        text = text[match.end() :]
    text = SOURCE_ROUTE_RE.sub("", text)
    for _, address in getaddresses([text]):
        address = address.lstrip("'")  # atext, but in a bounce a quote mark around it
        if is_mail_address(address):
            return address
    tokens = [STRAY_RE.sub("", token) for token in text.split() if "@" in token]
    cleaned = [token for token in tokens if is_mail_address(token)]
    return cleaned[-1] if cleaned else ""


def dsn_address(value: str) -> str:
    """The mail address of a DSN recipient field, "" for another address type (x400 ...)
    or a value that holds none. An untyped value is read as rfc822."""
    if not is_mail_typed(value):
        return ""
    match = ADDRESS_TYPE_RE.match(value)
    return bare_address(value[match.end() :] if match else value)


def is_mail_typed(value: str) -> bool:
    """A DSN recipient field of a mail address type (or untyped), whatever its value."""
    match = ADDRESS_TYPE_RE.match(value)
    return not match or match.group(1).lower() in MAIL_TYPES


def is_mail_address(address: str) -> bool:
    """`local@domain` with a host name of two labels or more (or an address literal) and
    a local part of atoms and dots (obsolete "a..b" kept) or one quoted string."""
    local, at, domain = address.rpartition("@")
    if not at or not (DOMAIN_RE.fullmatch(domain) or LITERAL_RE.fullmatch(domain)):
        return False
    return bool(LOCAL_RE.fullmatch(local) or QUOTED_LOCAL_RE.fullmatch(local))
