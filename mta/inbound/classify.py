"""Classify one received message as a delivery status notification, a feedback report, an
auto-reply or other mail, and turn it into a Report with per-recipient verdicts (pure)."""

from __future__ import annotations

import logging
from email.message import Message

from mta.errors import ValidationError
from mta.inbound.arf import parse_arf, parse_complaint
from mta.inbound.autoreply import is_autoreply
from mta.inbound.dsn import DsnRecipient, dsn_recipients, reporting_mta, text_dsn_recipients
from mta.inbound.formats import (
    bounce_text,
    diagnostic_for,
    looks_like_bounce,
    quoted_original_headers,
    text_recipients,
)
from mta.inbound.parts import get_header, original_headers, parse_bytes
from mta.inbound.reasons import best_status, classify, is_hard, reason_of, text_reason
from mta.inbound.report import Report, ReportRecipient
from mta.inbound.ses import parse_ses

log = logging.getLogger(__name__)
MAX_DIAGNOSTIC_CHARS = 1000


def classify_message(data: bytes) -> Report:
    """The Report of one received message. Never raises on odd input, except
    ValidationError for MIME too complex to parse."""
    message = parse_bytes(data)
    try:
        return _classify(message)
    except ValidationError:
        raise
    except Exception:  # a parser bug must not lose the MX's answer: report it, call it other
        log.exception("event=inbound_parse_error")
        return Report(kind="other")


def recipient(address: str, action: str, status: str, diagnostic: str) -> ReportRecipient:
    """One recipient's result with its status made precise, reason, classification, verdict."""
    diagnostic = " ".join(diagnostic.split())
    if diagnostic.lower().startswith(("smtp;", "x-postfix;", "x-unix;", "x-local;")):
        diagnostic = diagnostic.partition(";")[2].strip()
    status = best_status(status, diagnostic)
    reason = reason_of(status, diagnostic)
    if not action:
        action = "delayed" if status.startswith("4.") and reason != "expired" else "failed"
    classification, bounce_type = classify(status, diagnostic)
    return ReportRecipient(
        address=address,
        action=action,
        status=status,
        diagnostic=diagnostic[:MAX_DIAGNOSTIC_CHARS],
        classification=classification,
        bounce_type=bounce_type,
        hard=is_hard(action, status, reason),
        reason=reason,
    )


def _classify(message: Message) -> Report:
    arf = parse_arf(message)
    if arf is not None:
        return arf
    text = bounce_text(message)
    found = dsn_recipients(message) or text_dsn_recipients(message)
    if found:
        return _dsn_report(message, found, text)
    ses = parse_ses(text)
    if ses is not None:
        report, rows = ses
        report.recipients.extend(recipient(*row) for row in rows)
        return report
    if looks_like_bounce(message, text):
        named = text_recipients(message, text)
        if named:
            return Report(
                kind="dsn",
                recipients=[
                    recipient(r.address, "", "", _explained(r.diagnostic, text, len(named)))
                    for r in named
                ],
                reporter=get_header(message, "From"),
                original_headers=original_headers(message) or quoted_original_headers(message),
            )
    complaint = parse_complaint(message)
    if complaint is not None:
        return complaint
    if is_autoreply(message):
        return Report(kind="autoreply")
    return Report(kind="other")


def _explained(diagnostic: str, text: str, recipients: int) -> str:
    """`diagnostic`, or the bounce's whole text when it speaks of one recipient only and
    the words near the address name no cause ("Your message ... because: <cause>")."""
    if recipients != 1 or text_reason(diagnostic) or not text_reason(text):
        return diagnostic
    return " ".join(text.split())[:MAX_DIAGNOSTIC_CHARS]


def _dsn_report(message: Message, found: list[DsnRecipient], text: str) -> Report:
    """A DSN's report; a recipient block without Diagnostic-Code takes the human-readable
    text about its address instead."""
    named = [r.recipient for r in found]
    return Report(
        kind="dsn",
        recipients=[
            recipient(
                r.recipient,
                r.action,
                r.status,
                r.diagnostic
                or _explained(diagnostic_for(r.recipient, text, named), text, len(named)),
            )
            for r in found
        ],
        reporter=reporting_mta(message),
        original_headers=original_headers(message) or quoted_original_headers(message),
    )
