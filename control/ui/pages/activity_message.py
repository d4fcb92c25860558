"""The Activity message page's view data (pure): a message's events as a timeline, its SMTP
attempts (remote host, reply, source address, TLS), and the message as sent read from its
MIME bytes: headers, text and HTML bodies as bounded text, attachments, DKIM signatures."""

from __future__ import annotations

import email
import email.policy
import re
import time
from email.message import Message as MimeMessage
from typing import Any

import msgspec

from mta.services.messages import MessageEventView

MAX_TEXT = 200_000  # characters of one body or of the header block shown; the rest is cut
MAX_PARTS = 200  # MIME parts walked
ATTEMPTS = ("delivered", "deferred", "bounce")
EVENT_LABELS = {  # in the order a message lives them
    "processed": "Processed",
    "dropped": "Dropped",
    "deferred": "Deferred",
    "delivered": "Delivered",
    "bounce": "Bounced",
    "open": "Opened",
    "click": "Clicked",
    "spam_report": "Spam report",
    "unsubscribe": "Unsubscribed",
    "group_unsubscribe": "Unsubscribed from a group",
    "group_resubscribe": "Resubscribed to a group",
}
_DKIM_TAG = re.compile(r"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)")


class Step(msgspec.Struct, frozen=True):
    """One event of the timeline."""

    at: str
    event: str  # the stored event type (processed, bounce …)
    label: str
    email: str
    detail: str  # the reason, reply, link or user agent: what a support person reads


class Attempt(msgspec.Struct, frozen=True):
    """One SMTP outcome for one recipient."""

    at: str
    event: str
    email: str
    attempt: int | None
    remote_host: str  # the MX host spoken to ("" when no connection was made)
    reply: str
    source_ip: str
    tls: str  # "TLSv1.3 (cipher)", "none", or "" when the event does not record it


class BodyPart(msgspec.Struct, frozen=True):
    kind: str  # text/plain or text/html: always shown as text, never rendered
    text: str
    cut: int  # characters left out beyond MAX_TEXT (0: whole)


class Attachment(msgspec.Struct, frozen=True):
    name: str
    type: str
    size: int  # bytes, decoded (estimated from base64 without decoding)
    inline: bool


class Signature(msgspec.Struct, frozen=True):
    domain: str
    selector: str
    algorithm: str


class SentMessage(msgspec.Struct, frozen=True):
    headers: str  # the header block as sent, bounded
    headers_cut: int
    bodies: list[BodyPart]
    attachments: list[Attachment]
    signatures: list[Signature]
    size: int


def utc(seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def in_order(events: list[MessageEventView]) -> list[MessageEventView]:
    """Oldest first; within one second (events are stamped in whole seconds) in the order
    a message lives them, processed before its outcome before what the recipient did."""
    rank = {kind: index for index, kind in enumerate(EVENT_LABELS)}
    return sorted(events, key=lambda e: (e.timestamp, rank.get(e.event_type, len(rank))))


def timeline(events: list[MessageEventView]) -> list[Step]:
    """The events oldest first, each with what explains it."""
    return [
        Step(
            utc(e.timestamp),
            e.event_type,
            EVENT_LABELS.get(e.event_type, e.event_type),
            e.email,
            detail_of(e),
        )
        for e in in_order(events)
    ]


def detail_of(event: MessageEventView) -> str:
    data = event.data
    parts = [event.reason or "", event.url or "", event.http_user_agent or ""]
    if event.event_type == "bounce":
        parts.append(f"{data.get('type', 'bounce')}: {data.get('bounce_classification', '')}")
    if event.event_type == "spam_report" and data.get("source"):
        parts.append(f"reported by {data['source']}")
    if event.event_type in ("unsubscribe", "group_unsubscribe") and data.get("method"):
        parts.append(f"by {data['method']}")
    if data.get("asm_group_id") is not None:
        parts.append(f"group {data['asm_group_id']}")
    return " · ".join(str(p) for p in parts if p)


def attempts(events: list[MessageEventView]) -> list[Attempt]:
    """The delivered, deferred and bounce events: what each SMTP attempt was told."""
    return [
        Attempt(
            utc(e.timestamp),
            e.event_type,
            e.email,
            e.attempt_num,
            e.mx_server or "",
            e.reason or "",
            str(e.data.get("ip") or ""),
            tls_of(e.data),
        )
        for e in in_order(events)
        if e.event_type in ATTEMPTS
    ]


def tls_of(data: dict[str, Any]) -> str:
    if "tls" not in data:
        return ""
    if not data["tls"]:
        return "none" if data.get("mx") else ""
    version, cipher = data.get("tls_version") or "TLS", data.get("tls_cipher") or ""
    return f"{version} ({cipher})" if cipher else str(version)


def sent_message(raw: bytes) -> SentMessage:
    """The message's bytes as view data; bodies and headers cut at MAX_TEXT characters.
    Parsing can take a while on a big message: call it off the event loop."""
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    header_end = _header_end(raw)
    head = raw[:header_end].decode("utf-8", "replace")
    bodies: list[BodyPart] = []
    files: list[Attachment] = []
    for index, part in enumerate(parsed.walk()):
        if index >= MAX_PARTS:
            break
        if part.is_multipart():
            continue
        _take_part(part, bodies, files)
    return SentMessage(
        headers=head[:MAX_TEXT],
        headers_cut=max(len(head) - MAX_TEXT, 0),
        bodies=bodies,
        attachments=files,
        signatures=signatures(parsed.get_all("DKIM-Signature") or []),
        size=len(raw),
    )


def _take_part(part: MimeMessage, bodies: list[BodyPart], files: list[Attachment]) -> None:
    kind = part.get_content_type()
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    name = part.get_filename()
    if kind in ("text/plain", "text/html") and disposition != "attachment" and not name:
        text = _decoded_text(part)
        bodies.append(BodyPart(kind, text[:MAX_TEXT], max(len(text) - MAX_TEXT, 0)))
        return
    files.append(
        Attachment(
            name=str(name or "(no name)"),
            type=kind,
            size=_size(part),
            inline=disposition == "inline",
        )
    )


def _decoded_text(part: MimeMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", "replace")


def _size(part: MimeMessage) -> int:
    raw = part.get_payload()
    if not isinstance(raw, str):
        return 0
    if (part.get("Content-Transfer-Encoding") or "").strip().lower() == "base64":
        data = "".join(raw.split())
        return len(data) * 3 // 4 - data[-2:].count("=")
    return len(raw.encode("utf-8", "replace"))


def _header_end(raw: bytes) -> int:
    for mark in (b"\r\n\r\n", b"\n\n"):
        found = raw.find(mark)
        if found != -1:
            return found
    return len(raw)


def signatures(values: list[str]) -> list[Signature]:
    """d=, s= and a= of each DKIM-Signature header."""
    found = []
    for value in values:
        tags = {k: v.strip() for k, v in _DKIM_TAG.findall(" ".join(str(value).split()))}
        found.append(Signature(tags.get("d", ""), tags.get("s", ""), tags.get("a", "")))
    return found
