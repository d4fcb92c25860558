"""Build RFC 5322 messages with the standard `email` package, and stamp submitted ones.

Output is CRLF-terminated bytes ready for signing and SMTP.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from email.header import decode_header, make_header
from email.message import EmailMessage

from mta.intake.request import Address

POLICY = email.policy.SMTP
HEADER_END = re.compile(rb"\r?\n\r?\n")
RECEIVED = re.compile(rb"(?im)^received:")
# name ":" value, with folded continuation lines (RFC 5322 2.2, 2.2.3)
HEADER_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.M)
FOLD = re.compile(r"\r?\n(?=[ \t])")
TRACKING_HEADER = "X-ScaiSend-Message-Id"


def format_address(address: Address) -> str:
    return email.utils.formataddr((address.name or "", address.email))


def build_message(
    *,
    sender: Address,
    to: list[Address],
    cc: list[Address],
    reply_to: Address | None,
    subject: str,
    text: str | None,
    html: str | None,
    headers: dict[str, str],
    message_id: str,
    queue_id: str,
    domain: str,
) -> bytes:
    """A text, html or multipart/alternative message with our Message-ID and tracking header."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = format_address(sender)
    msg["To"] = ", ".join(format_address(a) for a in to)
    if cc:
        msg["Cc"] = ", ".join(format_address(a) for a in cc)
    if reply_to is not None:
        msg["Reply-To"] = format_address(reply_to)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{queue_id}@{domain}>"
    msg[TRACKING_HEADER] = message_id
    for name, value in headers.items():
        msg[name] = value
    if text is not None:
        msg.set_content(text, cte="quoted-printable")
        if html is not None:
            msg.add_alternative(html, subtype="html", cte="quoted-printable")
    else:
        msg.set_content(html or "", subtype="html", cte="quoted-printable")
    return msg.as_bytes(policy=POLICY)


def header_values(data: bytes) -> dict[str, str]:
    """The first value of each header (lower-cased names) of a raw message, unfolded and
    RFC 2047-decoded. This runs for every submitted message, so the header block is scanned
    with one regular expression (RFC 5322 field syntax) rather than the email package."""
    end = HEADER_END.search(data)
    head = data[: end.start()] if end else data
    found: dict[str, str] = {}
    for name, value in HEADER_FIELD.findall(head):
        key = name.decode("ascii").lower()
        if key not in found:
            found[key] = _readable(value.decode("utf-8", "surrogateescape"))
    return found


def received_count(data: bytes) -> int:
    """How many Received headers the message carries (its hop count)."""
    end = HEADER_END.search(data)
    return len(RECEIVED.findall(data[: end.end()] if end else data))


def _readable(raw: str) -> str:
    text = FOLD.sub("", raw).strip()
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text


def stamp_submitted(
    data: bytes, *, message_id: str, domain: str, present: dict[str, str], received: str = ""
) -> bytes:
    """Prepend our Received header (trace fields go on top), our tracking header, and
    Message-ID / Date when the client left them out."""
    added = [received] if received else []
    added.append(f"{TRACKING_HEADER}: {message_id}")
    if "message-id" not in present:
        added.append(f"Message-ID: <{message_id}@{domain}>")
    if "date" not in present:
        added.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    return "".join(line + "\r\n" for line in added).encode() + data
