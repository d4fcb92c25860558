"""Amazon SES notifications delivered by mail (SNS email subscriptions): the JSON bounce,
complaint and delivery notices, as a Report (pure)."""

from __future__ import annotations

import json
from typing import Any

from mta.inbound_mail.parsing.report import Report, ReportRecipient

MAX_JSON_CHARS = 1_000_000


def _document(text: str) -> dict[str, Any] | None:
    text = text.replace("!\n ", "")  # sendmail splits lines over 990 octets with "!"
    start = text.find("{")
    if start < 0 or len(text) > MAX_JSON_CHARS:
        return None
    try:
        document, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    inner = document.get("Message")
    if document.get("Type") == "Notification" and isinstance(inner, str):
        return _document(inner)  # the SNS envelope wraps the SES notice as a string
    return document


def _headers(mail: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in mail.get("headers") or []:
        if isinstance(header, dict):
            found.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    return found


def parse_ses(text: str) -> tuple[Report, list[tuple[str, str, str, str]]] | None:
    """(the report without bounce recipients, [(address, action, status, diagnostic)]) of an
    SES notification, or None when `text` is not one."""
    document = _document(text)
    if document is None:
        return None
    kind = str(document.get("notificationType") or document.get("eventType") or "")
    mail = document.get("mail") if isinstance(document.get("mail"), dict) else {}
    report = Report(kind="dsn", reporter="amazonses.com", original_headers=_headers(mail or {}))
    if kind == "Complaint":
        complaint = document.get("complaint") or {}
        report.kind = "arf"
        report.feedback_type = str(complaint.get("complaintFeedbackType") or "abuse")
        report.recipients = [
            ReportRecipient(
                address=str(r.get("emailAddress", "")), action="", status="", reason="feedback"
            )
            for r in complaint.get("complainedRecipients") or []
        ]
        return report, []
    if kind == "Bounce":
        rows = (document.get("bounce") or {}).get("bouncedRecipients") or []
        found = [
            (
                str(r.get("emailAddress", "")),
                str(r.get("action", "failed")),
                str(r.get("status", "")),
                str(r.get("diagnosticCode", "")),
            )
            for r in rows
            if isinstance(r, dict)
        ]
        return report, found
    if kind == "Delivery":
        delivery = document.get("delivery") or {}
        response = str(delivery.get("smtpResponse", ""))
        return report, [
            (str(a), "delivered", "", response) for a in delivery.get("recipients") or []
        ]
    return None
