"""Build RFC 5322 messages with the standard `email` package, and stamp submitted ones.

Output is CRLF-terminated bytes ready for signing and SMTP.
"""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage
from email.parser import BytesHeaderParser

from mta.intake.request import Address

POLICY = email.policy.SMTP
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
    """The first value of each header (lower-cased names) of a raw message."""
    parsed = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
    found: dict[str, str] = {}
    for name, value in parsed.items():
        found.setdefault(name.lower(), str(value))
    return found


def stamp_submitted(data: bytes, *, message_id: str, domain: str, present: dict[str, str]) -> bytes:
    """Prepend our tracking header, and Message-ID / Date when the client left them out."""
    added = [f"{TRACKING_HEADER}: {message_id}"]
    if "message-id" not in present:
        added.append(f"Message-ID: <{message_id}@{domain}>")
    if "date" not in present:
        added.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    return "".join(line + "\r\n" for line in added).encode() + data
