"""A send request's attachments, checked and decoded (strict base64) once, made into the MIME
parts every personalization's message shares; and the 30 MB limit on content and attachments.
"""

from __future__ import annotations

import binascii
import re

from mta.core.errors import ValidationError
from mta.submission.mime import MimeAttachment, base64_lines
from mta.submission.send_request.fields import BREAKING_RE, MIME_TYPE_RE
from mta.submission.send_request.request import Attachment, MailSend

MAX_TOTAL_BYTES = 30 * 1024 * 1024
MAX_FILENAME = 255
DEFAULT_TYPE = "application/octet-stream"
WHITESPACE_RE = re.compile(r"[ \t\r\n]+")
# An RFC 5322 dot-atom (with "@"), so `<content_id>` is a valid msg-id and `cid:` URL.
CONTENT_ID_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]{1,250}$")
TOO_LARGE = "The total size of your email, including attachments, must be less than 30MB."


def prepare_attachments(attachments: list[Attachment]) -> list[MimeAttachment]:
    return [_prepare(item, f"attachments.{index}") for index, item in enumerate(attachments)]


def _prepare(item: Attachment, path: str) -> MimeAttachment:
    _check_filename(item.filename, f"{path}.filename")
    kind = _check_type(item.type, f"{path}.type")
    if item.content_id:  # "" as absent: some clients send empty strings for unset fields
        _check_content_id(item.content_id, f"{path}.content_id")
    data = decode_content(item.content, f"{path}.content")
    return MimeAttachment(
        content_type=kind,
        filename=item.filename,
        inline=item.disposition == "inline",
        content_id=item.content_id or None,
        body=base64_lines(data),
        size=len(data),
    )


def decode_content(content: str, field: str) -> bytes:
    """Standard base64, padded; line breaks and spaces in it (76-column wrapping) allowed."""
    if not content:
        raise ValidationError(
            "The attachment content must be a string at least one character in length.",
            field=field,
        )
    if WHITESPACE_RE.search(content):
        content = WHITESPACE_RE.sub("", content)
    try:
        return binascii.a2b_base64(content.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValidationError(
            "The attachment content must be base64 encoded.", field=field
        ) from None


def _check_filename(filename: str, field: str) -> None:
    if not filename:
        raise ValidationError("filename is required.", field=field)
    if BREAKING_RE.search(filename):
        raise ValidationError(
            "The filename of your attachment cannot contain CRLF characters.", field=field
        )
    if len(filename) > MAX_FILENAME:
        raise ValidationError(
            "The filename of your attachment may be at most 255 characters long.", field=field
        )


def _check_type(kind: str | None, field: str) -> str:
    if kind is None:
        return DEFAULT_TYPE
    if not kind:
        raise ValidationError(
            "The attachment type must be a string and at least one character in length.",
            field=field,
        )
    if ";" in kind or BREAKING_RE.search(kind):
        raise ValidationError("The type cannot contain ';', or CRLF characters.", field=field)
    if not MIME_TYPE_RE.fullmatch(kind):
        raise ValidationError(
            "The attachment type must be a MIME type such as application/pdf.", field=field
        )
    return kind.lower()


def _check_content_id(content_id: str, field: str) -> None:
    if BREAKING_RE.search(content_id):
        raise ValidationError(
            "The content ID of your attachment cannot contain CRLF characters.", field=field
        )
    if not CONTENT_ID_RE.fullmatch(content_id):
        raise ValidationError(
            "The content ID of your attachment may hold only letters, digits and "
            "!#$%&'*+-/=?^_`{|}~.@ (no spaces or angle brackets).",
            field=field,
        )


def check_total_size(request: MailSend, attachments: list[MimeAttachment]) -> None:
    """Content and decoded attachments together under 30 MB; the error names the item that
    passes the limit."""
    total = 0
    sized = [(f"content.{i}.value", _utf8_length(c.value)) for i, c in enumerate(request.content)]
    sized += [(f"attachments.{i}.content", a.size) for i, a in enumerate(attachments)]
    for field, size in sized:
        total += size
        if total >= MAX_TOTAL_BYTES:
            raise ValidationError(TOO_LARGE, field=field)


def _utf8_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))
