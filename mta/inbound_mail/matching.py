"""Which of our messages and recipients an inbound report is about, and the events it gives
(pure): VERP recipients and the attached original's headers, checked against the message's
own account and recipients."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from email.utils import getaddresses
from typing import Any, Literal

import msgspec

from mta.core.events import Bounce, Deferred, Event, SpamReport
from mta.core.model import parse_verp
from mta.inbound_mail.parsing.report import Report, ReportRecipient

Via = Literal["rcpt", "return-path", "header"]
MESSAGE_ID_HEADER = "x-scaisend-message-id"


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """A pointer at one of our messages. `index` and `host` come from a VERP address (the
    envelope recipient, or the original's Return-Path); a bare X-ScaiSend-Message-Id has
    neither."""

    message_id: str
    via: Via
    index: int | None = None
    host: str = ""


class Candidate(msgspec.Struct, kw_only=True):
    """A message from the log as matching needs it. `hosts` are the return-path hosts of its
    account's domains; `recipients` are (index, email, status); `complained` the addresses
    that already have a spam report."""

    message_id: str
    account_id: str
    hosts: frozenset[str]
    recipients: list[tuple[int, str, str]]
    categories: list[str] = msgspec.field(default_factory=list)
    custom_args: dict[str, str] = msgspec.field(default_factory=dict)
    complained: frozenset[str] = frozenset()


def bare_address(value: str) -> str:
    """`rfc822; <Ada@X>` or `Ada <ada@x>` → `ada@x` (lower-case); "" when there is none."""
    value = value.strip()
    if ";" in value and "@" not in value.partition(";")[0]:
        value = value.partition(";")[2]
    found = [address for _, address in getaddresses([value]) if "@" in address]
    return found[0].strip().lower() if found else ""


def _verp(address: str, via: Via) -> Reference | None:
    parsed = parse_verp(bare_address(address) or address)
    if parsed is None:
        return None
    host = (bare_address(address) or address).rpartition("@")[2].rstrip(".").lower()
    return Reference(message_id=parsed[0], index=parsed[1], host=host, via=via)


def references(report: Report, rcpt_tos: Sequence[str]) -> list[Reference]:
    """Every pointer at our messages, most direct first: VERP envelope recipients, then the
    original's VERP Return-Path, then its X-ScaiSend-Message-Id."""
    found = [ref for rcpt in rcpt_tos if (ref := _verp(rcpt, "rcpt")) is not None]
    headers = report.original_headers
    return_path = _verp(headers.get("return-path", ""), "return-path")
    if return_path is not None:
        found.append(return_path)
    header_id = headers.get(MESSAGE_ID_HEADER, "").strip().strip("<>")
    if header_id:
        found.append(Reference(message_id=header_id, via="header"))
    unique: dict[tuple[str, int | None, str], Reference] = {}
    for ref in found:
        unique.setdefault((ref.message_id, ref.index, ref.host), ref)
    return list(unique.values())


def authorised(
    ref: Reference, candidate: Candidate, static: Iterable[str], rcpt_domains: Iterable[str]
) -> bool:
    """Whether `ref` may speak for `candidate` (tenant isolation). A VERP host must be a
    return-path host of the message's own account; a report found only through headers must
    have reached that account's return-path host or an operator-wide inbound domain."""
    if ref.host:
        return ref.host in candidate.hosts
    allowed = candidate.hosts | {domain.lower() for domain in static}
    return any(domain.lower() in allowed for domain in rcpt_domains)


def match_recipients(
    reported: Sequence[ReportRecipient],
    index: int | None,
    recipients: Sequence[tuple[int, str, str]],
) -> list[tuple[ReportRecipient, int]]:
    """Each reported recipient paired with the message recipient it is about.

    By address (the VERP recipient first, then any recipient of the message); a sole
    reported recipient whose address fits none (rewritten by forwarding, or redacted in a
    complaint) falls to the VERP index if it fits, else to the message's sole recipient.
    Anything else is left out, and no recipient is named twice."""
    emails = {i: email.lower() for i, email, _ in recipients}
    by_address: dict[str, int] = {}
    for i, email in sorted(emails.items(), reverse=True):
        by_address[email] = i
    verp = index if index in emails else None
    fallback = verp if verp is not None else (next(iter(emails)) if len(emails) == 1 else None)
    pairs: list[tuple[ReportRecipient, int]] = []
    for item in reported:
        address = bare_address(item.address)
        if verp is not None and address == emails[verp]:
            chosen: int | None = verp
        elif address in by_address:
            chosen = by_address[address]
        else:
            chosen = fallback if len(reported) == 1 else None
        if chosen is not None and chosen not in {i for _, i in pairs}:
            pairs.append((item, chosen))
    return pairs


def complained_of(report: Report) -> list[ReportRecipient]:
    """The recipients an ARF report complains for: those it names, else the original's To."""
    if report.recipients:
        return list(report.recipients)
    to = report.original_headers.get("to", "")
    return [ReportRecipient(address=to, action="complained", status="")]


def dsn_event(item: ReportRecipient, common: dict[str, Any]) -> Event | None:
    """Bounce for a failure (an expired delivery too, even with 4.x.x), Deferred for a
    delay, nothing for delivered, relayed or expanded."""
    text = f"{item.status} {item.diagnostic}".strip()
    if item.hard or item.action == "failed":
        return Bounce(
            **common,
            reason=text,
            status=item.status,
            type=item.bounce_type,
            bounce_classification=item.classification,
        )
    if item.action == "delayed":
        return Deferred(**common, response=text, status=item.status, attempt=0)
    return None


def events_for(report: Report, candidate: Candidate, index: int | None) -> list[Event]:
    """The events `report` gives for `candidate`, skipping what is already known: a bounce
    or delay for a recipient already bounced, a complaint already recorded."""
    status = {i: s for i, _, s in candidate.recipients}
    emails = {i: e for i, e, _ in candidate.recipients}
    reported = complained_of(report) if report.kind == "arf" else report.recipients
    found: list[Event] = []
    for item, i in match_recipients(reported, index, candidate.recipients):
        common: dict[str, Any] = dict(
            account_id=candidate.account_id,
            message_id=candidate.message_id,
            email=emails[i],
            recipient_index=i,
            categories=list(candidate.categories),
            custom_args=dict(candidate.custom_args),
        )
        if report.kind == "arf":
            if emails[i].lower() not in candidate.complained:
                found.append(
                    SpamReport(
                        **common,
                        feedback_type=report.feedback_type or "abuse",
                        source=report.reporter,
                    )
                )
        elif report.kind == "dsn" and status[i] != "bounced":
            event = dsn_event(item, common)
            if event is not None:
                found.append(event)
    return found
