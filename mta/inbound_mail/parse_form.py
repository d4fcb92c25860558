"""SendGrid's Inbound Parse form for one received message (pure): the fields (headers, text,
html, envelope, charsets, attachment-info …) and files, or with send_raw the whole message
in `email`, and its multipart/form-data encoding."""

from __future__ import annotations

import email
import email.policy
import json
import secrets
from email.message import Message as MimeMessage

import msgspec

MAX_PARTS = 200  # MIME parts walked; the rest are neither bodies nor attachments
MAX_ATTACHMENTS = 100


class ParseEnvelope(msgspec.Struct, frozen=True, kw_only=True):
    """What the MX saw: the SMTP envelope and the client's address."""

    mail_from: str
    rcpt_tos: list[str]
    sender_ip: str


class Verdicts(msgspec.Struct, frozen=True, kw_only=True):
    """Authentication of the message as SendGrid reports it: `dkim` like `{@d.example :
    pass}`, `spf` pass / fail / softfail / neutral / none …, and a spam score if scanned."""

    dkim: str
    spf: str
    dmarc: str = "none"  # ours, beside SendGrid's fields: pass, none, fail (p=…)
    spam_score: str | None = None
    spam_report: str | None = None


class FormFile(msgspec.Struct, frozen=True):
    field: str  # attachment1, attachment2 …
    filename: str
    content_type: str
    data: bytes


class ParseForm(msgspec.Struct, frozen=True):
    fields: list[tuple[str, str]]
    files: list[FormFile]


def form_of(raw: bytes, envelope: ParseEnvelope, verdicts: Verdicts, send_raw: bool) -> ParseForm:
    """The form SendGrid would post for `raw`. Call it off the event loop: it parses MIME."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    common = [
        ("dkim", verdicts.dkim),
        ("to", _header(message, "To")),
        ("from", _header(message, "From")),
        ("subject", _header(message, "Subject")),
        ("sender_ip", envelope.sender_ip),
        ("envelope", json.dumps({"to": envelope.rcpt_tos, "from": envelope.mail_from})),
        ("SPF", verdicts.spf),
        ("dmarc", verdicts.dmarc),
    ]
    if message.get("Cc") is not None:
        common.append(("cc", _header(message, "Cc")))
    if verdicts.spam_score is not None:
        common += [("spam_score", verdicts.spam_score), ("spam_report", verdicts.spam_report or "")]
    if send_raw:
        charsets = {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}
        fields = [*common, ("email", raw.decode("utf-8", "replace"))]
        return ParseForm([*fields, ("charsets", json.dumps(charsets))], [])
    return _parsed_form(raw, message, common)


def _parsed_form(raw: bytes, message: MimeMessage, common: list[tuple[str, str]]) -> ParseForm:
    texts: dict[str, list[str]] = {"text": [], "html": []}
    charsets = {"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}
    files: list[FormFile] = []
    info: dict[str, dict[str, str]] = {}
    content_ids: dict[str, str] = {}
    for index, part in enumerate(message.walk()):
        if index >= MAX_PARTS:
            break
        if part.is_multipart():
            continue
        kind = _body_kind(part)
        if kind is not None:
            texts[kind].append(_decoded(part))
            charsets[kind] = part.get_content_charset() or "us-ascii"
        elif len(files) < MAX_ATTACHMENTS:
            _attach(part, files, info, content_ids)
    fields = [("headers", _header_block(raw)), *common]
    fields += [(kind, "\n".join(found)) for kind, found in texts.items() if found]
    fields += [("charsets", json.dumps(charsets)), ("attachments", str(len(files)))]
    if files:
        fields.append(("attachment-info", json.dumps(info)))
    if content_ids:
        fields.append(("content-ids", json.dumps(content_ids)))
    return ParseForm(fields, files)


def _body_kind(part: MimeMessage) -> str | None:
    """text or html for a body part; None for an attachment (named or disposed so)."""
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    if disposition == "attachment" or part.get_filename():
        return None
    return {"text/plain": "text", "text/html": "html"}.get(part.get_content_type())


def _attach(
    part: MimeMessage,
    files: list[FormFile],
    info: dict[str, dict[str, str]],
    content_ids: dict[str, str],
) -> None:
    field = f"attachment{len(files) + 1}"
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    name = str(part.get_filename() or f"{field}.bin")
    kind = part.get_content_type()
    files.append(FormFile(field, name, kind, data))
    info[field] = {"filename": name, "name": name, "type": kind}
    content_id = (part.get("Content-ID") or "").strip().strip("<>")
    if content_id:
        info[field]["content-id"] = content_id
        content_ids[content_id] = field


def _decoded(part: MimeMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", "replace")


def _header(message: MimeMessage, name: str) -> str:
    value = message.get(name)
    if value is None:
        return ""
    return str(email.header.make_header(email.header.decode_header(str(value))))


def _header_block(raw: bytes) -> str:
    for mark in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(mark)
        if end != -1:
            return raw[:end].decode("utf-8", "replace").replace("\r\n", "\n") + "\n"
    return raw.decode("utf-8", "replace")


def encoded(form: ParseForm) -> tuple[bytes, str]:
    """(body, content type) of the form as multipart/form-data."""
    boundary = "xYzZY" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value in form.fields:
        chunks.append(_part_head(boundary, f'name="{_quoted(name)}"') + b"\r\n")
        chunks.append(value.encode("utf-8") + b"\r\n")
    for file in form.files:
        disposition = f'name="{_quoted(file.field)}"; filename="{_quoted(file.filename)}"'
        kind = f"Content-Type: {file.content_type}\r\n\r\n".encode()
        chunks += [_part_head(boundary, disposition), kind, file.data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _part_head(boundary: str, disposition: str) -> bytes:
    return f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n".encode()


def _quoted(text: str) -> str:
    """A name or filename inside quotes, as browsers send it (RFC 7578 4.2)."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
