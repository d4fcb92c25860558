"""Classify one received message as a delivery status notification, a feedback report, an
auto-reply or other mail, and turn it into a Report with per-recipient verdicts (pure)."""

from __future__ import annotations

import logging
from email.message import Message

import msgspec

from mta.core.errors import ValidationError
from mta.inbound_mail.parsing.arf import parse_arf, parse_complaint
from mta.inbound_mail.parsing.autoreply import is_autoreply
from mta.inbound_mail.parsing.dsn import (
    DsnRecipient,
    dsn_recipients,
    reporting_mta,
    text_dsn_recipients,
)
from mta.inbound_mail.parsing.formats import (
    bounce_text,
    diagnostic_for,
    looks_like_bounce,
    quoted_original_headers,
    text_recipients,
)
from mta.inbound_mail.parsing.mlnotice import parse_fml
from mta.inbound_mail.parsing.parts import get_header, original_headers, parse_bytes
from mta.inbound_mail.parsing.permanence import worded_action
from mta.inbound_mail.parsing.providers import reporter_reason
from mta.inbound_mail.parsing.reasons import (
    CLASSIFICATION,
    best_status,
    is_hard,
    reason_of,
    text_reason,
)
from mta.inbound_mail.parsing.report import Report, ReportRecipient
from mta.inbound_mail.parsing.ses import parse_ses

log = logging.getLogger(__name__)
MAX_DIAGNOSTIC_CHARS = 1000
DIAGNOSTIC_TYPES = ("smtp", "x-postfix", "x-unix", "x-local", "x-notes")


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


def recipient(
    address: str, action: str, status: str, diagnostic: str, reporter: str = "", text: str = ""
) -> ReportRecipient:
    """One recipient's result with its status made precise, reason, classification, verdict;
    `reporter` is the DSN's Reporting-MTA, whose own fixed wordings name their cause. With
    no action and no status code anywhere, the wording of the diagnostic and of the
    bounce's `text` says whether the failure is final (permanence.worded_action)."""
    diagnostic_type, diagnostic = _split_type(" ".join(_iso2022(diagnostic).split()))
    status = best_status(status, diagnostic)
    if not action and not status:
        action = worded_action(diagnostic, text)
    reason = reporter_reason(reporter, diagnostic) or reason_of(status, diagnostic)
    if diagnostic_type == "x-unix" and reason in ("user unknown", "undefined"):
        reason = "mailer error"  # a local delivery program's exit, not a verdict on the address
    if not action:
        action = "delayed" if status.startswith("4.") and reason != "expired" else "failed"
    classification, bounce_type = CLASSIFICATION.get(reason, ("Unclassified", "bounce"))
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


def _split_type(diagnostic: str) -> tuple[str, str]:
    """A Diagnostic-Code's type (smtp, x-postfix, x-unix, x-local; "" when none) and text."""
    kind, _, rest = diagnostic.partition(";")
    if kind.strip().lower() in DIAGNOSTIC_TYPES:
        return kind.strip().lower(), rest.strip()
    return "", diagnostic


def _iso2022(text: str) -> str:
    """`text` decoded from ISO-2022-JP when it carries that charset's escape sequences
    undecoded (Japanese Notes/Domino put them raw in Diagnostic-Code)."""
    if "\x1b$" not in text:
        return text
    try:
        return text.encode("ascii").decode("iso-2022-jp")
    except (UnicodeError, LookupError):
        return text


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
    fml = parse_fml(message)
    if fml is not None:
        return fml
    if looks_like_bounce(message, text):
        named = text_recipients(message, text)
        if named:
            return Report(
                kind="dsn",
                recipients=[
                    recipient(
                        r.address, "", "", _explained(r.diagnostic, text, len(named)), "", text
                    )
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


def _with_addresses(message: Message, found: list[DsnRecipient], text: str) -> list[DsnRecipient]:
    """`found`, each recipient block that names no mail address (`Final-Recipient:
    system;<>`, X.400 only) given the next failed address the bounce's text names."""
    if all(r.recipient for r in found):
        return found
    present = {r.recipient.lower() for r in found}
    named = [t.address for t in text_recipients(message, text) if t.address not in present]
    spare = iter(named)
    return [
        r if r.recipient else msgspec.structs.replace(r, recipient=next(spare, "")) for r in found
    ]


def _dsn_report(message: Message, found: list[DsnRecipient], text: str) -> Report:
    """A DSN's report; a recipient block without Diagnostic-Code takes the human-readable
    text about its address instead."""
    found = _with_addresses(message, found, text)
    named = [r.recipient for r in found]
    reporter = reporting_mta(message)
    return Report(
        kind="dsn",
        recipients=[
            recipient(
                r.recipient,
                r.action,
                r.status,
                r.diagnostic
                or _explained(diagnostic_for(r.recipient, text, named), text, len(named)),
                reporter,
                text,
            )
            for r in found
        ],
        reporter=reporter,
        original_headers=original_headers(message) or quoted_original_headers(message),
    )
