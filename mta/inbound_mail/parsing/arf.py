"""Parse RFC 5965 feedback reports (ARF), including RFC 6591 authentication-failure
reports, into a Report of kind "arf": feedback type, reporter, complained-of recipient and
the attached original's headers (pure)."""

from __future__ import annotations

from email.message import Message
from email.utils import getaddresses

from mta.inbound_mail.parsing.addresses import bare_address
from mta.inbound_mail.parsing.parts import (
    get_header,
    header_text,
    headers_from_text,
    headers_of,
    original_headers,
    own_parts,
    part_text,
)
from mta.inbound_mail.parsing.report import Report, ReportRecipient

FEEDBACK_TYPE = "message/feedback-report"


def feedback_part(message: Message) -> Message | None:
    """The message/feedback-report part, wherever it sits, or None."""
    for part in own_parts(message):
        if part.get_content_type() == FEEDBACK_TYPE:
            return part
    return None


def _fields(part: Message) -> dict[str, str]:
    """The report's fields (lower-case names), whether the part was parsed as a message or
    arrived base64-encoded as one text."""
    payload = part.get_payload()
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if isinstance(payload, list) and payload and encoding not in ("base64", "quoted-printable"):
        inner = payload[0]
        return headers_of(inner) if isinstance(inner, Message) else {}
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        text = payload[0].as_string()  # the parser took encoded text for a message: undo
        part = Message()
        part["Content-Transfer-Encoding"] = encoding
        part.set_payload(text.lstrip("\n"))
    return headers_from_text(part_text(part).replace("\r\n", "\n"))


def _address(value: str) -> str:
    return bare_address(header_text(value))


def parse_arf(message: Message) -> Report | None:
    """The feedback report of `message`, or None when it carries no feedback-report part."""
    part = feedback_part(message)
    if part is None:
        return None
    fields = _fields(part)
    original = original_headers(message)
    rcpt = _address(fields.get("original-rcpt-to", "")) or _address(
        _first_address(original.get("to", ""))
    )
    feedback_type = fields.get("feedback-type", "").strip().lower()
    reporter = (
        fields.get("reporting-mta", "").partition(";")[2].strip()
        or fields.get("user-agent", "")
        or fields.get("reported-domain", "")
        or get_header(message, "From")
    )
    recipients = (
        [ReportRecipient(address=rcpt, action="", status="", reason="feedback", hard=False)]
        if rcpt
        else []
    )
    return Report(
        kind="arf",
        recipients=recipients,
        feedback_type=feedback_type,
        reporter=reporter,
        original_headers=original,
    )


def _first_address(value: str) -> str:
    pairs = getaddresses([value])
    return pairs[0][1] if pairs else ""


def parse_complaint(message: Message) -> Report | None:
    """Complaints that are not ARF: Microsoft's "complaint about message from <ip>" with the
    original attached (abuse), and a mail-client unsubscribe request whose subject is
    "unsubscribe" (opt-out, from the sender of the request)."""
    subject = get_header(message, "Subject").strip().lower()
    if subject.startswith("complaint about message from"):
        original = original_headers(message)
        rcpt, feedback_type = _first_address(original.get("to", "")), "abuse"
    elif subject == "unsubscribe":
        original, feedback_type = {}, "opt-out"
        rcpt = _first_address(get_header(message, "From"))
    else:
        return None
    return Report(
        kind="arf",
        recipients=[ReportRecipient(address=rcpt, action="", status="", reason="feedback")]
        if rcpt
        else [],
        feedback_type=feedback_type,
        reporter=get_header(message, "From"),
        original_headers=original,
    )
