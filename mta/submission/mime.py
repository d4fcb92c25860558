"""Build RFC 5322 messages with the standard `email` package (its compat32 classes: several
times faster than EmailMessage's policies), and stamp submitted ones. Output is
CRLF-terminated bytes ready for signing and SMTP."""

from __future__ import annotations

import base64
import binascii
import email.utils
import io
import re
import secrets
from collections.abc import Sequence
from email.generator import BytesGenerator
from email.header import Header, decode_header, make_header
from email.message import Message
from typing import TYPE_CHECKING

import msgspec

from mta.submission.mime_headers import (
    FoldingPolicy,
    addresses,
    format_address,
    header_value,
    with_param,
)
from mta.submission.send_request.request import Address, Content

__all__ = ["MimeAttachment", "build_message", "format_address", "header_values"]

POLICY = FoldingPolicy(linesep="\r\n", max_line_length=78)
if TYPE_CHECKING:  # compat32 takes a str or an email.header.Header
    Part = Message[str, str | Header]
else:
    Part = Message
HEADER_END = re.compile(rb"\r?\n\r?\n")
RECEIVED = re.compile(rb"(?im)^received:")
# name ":" value, with folded continuation lines (RFC 5322 2.2, 2.2.3)
HEADER_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)", re.M)
FOLD = re.compile(r"\r?\n(?=[ \t])")
TRACKING_HEADER = "X-ScaiSend-Message-Id"


class MimeAttachment(msgspec.Struct, frozen=True, kw_only=True):
    """An attachment ready for every message of a request: its base64 body is made once."""

    content_type: str  # type/subtype, lower case
    filename: str
    inline: bool
    content_id: str | None
    body: str  # base64 in lines of 76 ending in CRLF
    size: int  # decoded bytes


def build_message(
    *,
    sender: Address,
    to: Sequence[Address],
    cc: Sequence[Address],
    reply_to: Address | Sequence[Address] | None,
    subject: str,
    headers: dict[str, str],
    message_id: str,
    queue_id: str,
    domain: str,
    text: str | None = None,
    html: str | None = None,
    contents: Sequence[Content] | None = None,
    attachments: Sequence[MimeAttachment] = (),
) -> bytes:
    """One message: its contents (or `text` and `html`) as a single part or alternatives,
    inline images beside them in multipart/related, attachments around all in
    multipart/mixed; with our Message-ID and tracking header."""
    if contents is None:
        contents = [Content(t, v) for t, v in (("text/plain", text), ("text/html", html)) if v]
    body = _body(contents or [Content("text/plain", "")], attachments)
    msg = Part(policy=POLICY)
    _address(msg, sender, to, cc, reply_to)
    msg["Subject"] = header_value("Subject", subject)
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = header_value("Message-ID", f"<{queue_id}@{domain}>")
    msg[TRACKING_HEADER] = header_value(TRACKING_HEADER, message_id)
    for name, text_value in headers.items():
        msg[name] = header_value(name, text_value)
    msg["MIME-Version"] = "1.0"
    for name, part_value in body.items():
        msg[name] = part_value
    msg.set_payload(body.get_payload())
    return flatten(msg)


def _address(
    msg: Part,
    sender: Address,
    to: Sequence[Address],
    cc: Sequence[Address],
    reply_to: Address | Sequence[Address] | None,
) -> None:
    msg["From"] = addresses("From", [sender])
    msg["To"] = addresses("To", to)
    if cc:
        msg["Cc"] = addresses("Cc", cc)
    replies = [reply_to] if isinstance(reply_to, Address) else list(reply_to or ())
    if replies:
        msg["Reply-To"] = addresses("Reply-To", replies)


class Generator(BytesGenerator):
    """Writes a payload that is ASCII with CRLF line ends already (we make them so) in one
    piece: the base class's line-by-line rewrite is most of the time spent on an attachment."""

    def _handle_text(self, msg: Part) -> None:
        payload = msg.get_payload()
        if isinstance(payload, str) and payload.isascii() and _crlf_only(payload):
            self.write(payload)
        else:
            super()._handle_text(msg)  # type: ignore[misc]

    _writeBody = _handle_text  # what the base class calls for non-text parts


def _crlf_only(text: str) -> bool:
    crlf = text.count("\r\n")
    return text.count("\n") == crlf and text.count("\r") == crlf


def flatten(msg: Part) -> bytes:
    out = io.BytesIO()
    Generator(out, mangle_from_=False, policy=POLICY).flatten(msg)
    return out.getvalue()


def base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 ending in CRLF."""
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def _body(contents: Sequence[Content], attachments: Sequence[MimeAttachment]) -> Part:
    texts = [_text_part(item) for item in contents]
    body = texts[0] if len(texts) == 1 else _multipart("alternative", texts)
    related = [a for a in attachments if a.inline and a.content_id]
    others = [a for a in attachments if not (a.inline and a.content_id)]
    if related:
        root = contents[0].type.lower() if len(texts) == 1 else "multipart/alternative"
        body = _multipart("related", [body, *map(_attachment_part, related)], f'"{root}"')
    if others:
        body = _multipart("mixed", [body, *map(_attachment_part, others)])
    return body


def _multipart(subtype: str, parts: list[Part], root: str = "") -> Part:
    """A multipart with a boundary no part can contain: every part is quoted-printable (where
    "=" is followed by hex digits or ends a line) or base64 (no "=_" at all), so no line of
    theirs starts with "--=_". Choosing it here spares the generator its search."""
    multipart = Part(policy=POLICY)
    related = f"; type={root}" if root else ""
    boundary = f"=_{secrets.token_hex(12)}"
    multipart["Content-Type"] = f'multipart/{subtype}{related}; boundary="{boundary}"'
    for part in parts:
        multipart.attach(part)
    return multipart


def _text_part(content: Content) -> Part:
    """Text as UTF-8 quoted-printable (lines of at most 76 whatever the input), ending in a
    line break as the email package's own set_content ends it; any other type as base64 of
    its UTF-8, as it is."""
    part = Part(policy=POLICY)
    kind = content.type.lower()
    if not kind.startswith("text/"):
        part["Content-Type"] = kind
        part["Content-Transfer-Encoding"] = "base64"
        part.set_payload(base64_lines(content.value.encode("utf-8")))
        return part
    text = content.value.replace("\r\n", "\n").replace("\r", "\n")
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    part["Content-Type"] = f'{kind}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(data, istext=True).decode("ascii").replace("\n", "\r\n"))
    return part


def _attachment_part(attachment: MimeAttachment) -> Part:
    part = Part(policy=POLICY)
    name = attachment.filename
    part["Content-Type"] = with_param("Content-Type", attachment.content_type, "name", name)
    disposition = "inline" if attachment.inline else "attachment"
    part["Content-Disposition"] = with_param("Content-Disposition", disposition, "filename", name)
    if attachment.content_id:
        part["Content-ID"] = header_value("Content-ID", f"<{attachment.content_id}>")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(attachment.body)
    return part


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
