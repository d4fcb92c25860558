"""Which of our messages and recipients an inbound report is about, and the events it gives
(pure): signed VERP return paths only (docs/inbound-service.md), checked against the
message's own account; one return path speaks for its own recipient and no other."""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import getaddresses
from typing import Any, Literal

import msgspec

from mta.core.events import RECIPIENT_STATUS, Bounce, Deferred, Event, SpamReport, event_type
from mta.core.return_path import ReturnPathKeys, parse_verp
from mta.inbound_mail.parsing.report import Report, ReportRecipient

Via = Literal["rcpt", "return-path"]
MESSAGE_ID_HEADER = "x-scaisend-message-id"
AUTH_FAILURE = "auth-failure"  # RFC 6591: a DMARC failure report, never a complaint


class Reference(msgspec.Struct, frozen=True, kw_only=True):
    """A verified pointer at one of our messages and one recipient: a signed VERP address
    whose MAC verified (the envelope recipient, or a trusted FBL report's attached
    Return-Path)."""

    message_id: str
    via: Via
    index: int
    host: str


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


def _signed(address: str, via: Via, keys: ReturnPathKeys, refused: list[str]) -> Reference | None:
    """The reference a signed VERP address makes; an unsigned or badly signed one is noted
    in `refused` and gives none."""
    parsed = parse_verp(bare_address(address) or address, keys)
    if parsed is None:
        return None
    if parsed.signature != "valid":
        what = "unsigned" if parsed.signature == "missing" else "bad MAC in"
        refused.append(f"{what} return path {parsed.message_id}.{parsed.index} ({via})")
        return None
    return Reference(message_id=parsed.message_id, index=parsed.index, host=parsed.host, via=via)


def references(
    report: Report, rcpt_tos: Sequence[str], keys: ReturnPathKeys, trusted_fbl: bool = False
) -> tuple[list[Reference], list[str]]:
    """The verified pointers at our messages, and why others were refused.

    Only a VERP envelope recipient whose MAC verifies names a message; when `trusted_fbl`
    (an ARF report to an FBL address, DKIM-signed by its From domain), so does the attached
    original's signed Return-Path. Anything else the attachment carries (an unsigned
    Return-Path, X-ScaiSend-Message-Id) is only noted: recipients see those headers too."""
    refused: list[str] = []
    found = [ref for rcpt in rcpt_tos if (ref := _signed(rcpt, "rcpt", keys, refused))]
    headers = report.original_headers
    if trusted_fbl:
        attached = _signed(headers.get("return-path", ""), "return-path", keys, refused)
        found += [attached] if attached is not None else []
    header_id = headers.get(MESSAGE_ID_HEADER, "").strip().strip("<>")
    if not found and header_id:
        refused.append(f"the attachment names {header_id[:64]}, not trusted")
    unique: dict[tuple[str, int], Reference] = {}
    for ref in found:
        unique.setdefault((ref.message_id, ref.index), ref)
    return list(unique.values()), refused


def authorised(ref: Reference, candidate: Candidate) -> bool:
    """Whether `ref` may speak for `candidate` (tenant isolation): its VERP host must be a
    return-path host of the message's own account."""
    return ref.host in candidate.hosts


def reported_for(
    reported: Sequence[ReportRecipient], email: str, others: frozenset[str] = frozenset()
) -> ReportRecipient | None:
    """What a report to one recipient's return path says of that recipient: the entry naming
    its address, else a sole entry naming no other recipient of the message (`others`; an
    address rewritten by forwarding). A report to one recipient's return path never speaks
    for another recipient of the message."""
    addresses = [bare_address(item.address) for item in reported]
    for item, address in zip(reported, addresses, strict=True):
        if address == email.lower():
            return item
    if len(reported) == 1 and addresses[0] not in others:
        return reported[0]
    return None


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


def events_for(report: Report, candidate: Candidate, index: int) -> list[Event]:
    """The events `report` gives for recipient `index` of `candidate`, skipping what is
    already known: a bounce or delay for a recipient already bounced, a complaint already
    recorded. A DMARC failure report (auth-failure) gives none."""
    recipient = {i: (email, status) for i, email, status in candidate.recipients}.get(index)
    if recipient is None:
        return []
    email, status = recipient
    common: dict[str, Any] = dict(
        account_id=candidate.account_id,
        message_id=candidate.message_id,
        email=email,
        recipient_index=index,
        categories=list(candidate.categories),
        custom_args=dict(candidate.custom_args),
    )
    if report.kind == "arf" and report.feedback_type != AUTH_FAILURE:
        if email.lower() in candidate.complained:
            return []
        feedback = report.feedback_type or "abuse"
        return [SpamReport(**common, feedback_type=feedback, source=report.reporter)]
    others = frozenset(e.lower() for i, e, _ in candidate.recipients if i != index)
    item = reported_for(report.recipients, email, others) if report.kind == "dsn" else None
    if item is None or status == "bounced":
        return []
    event = dsn_event(item, common)
    return [event] if event is not None else []


def after_events(candidate: Candidate, events: Sequence[Event]) -> Candidate:
    """`candidate` as the event bus will leave it once `events` are written: a bounced
    recipient's status, a complaint's address. Matching the next report of a batch against
    it keeps a report delivered twice from counting twice before the bus has written."""
    if not events:
        return candidate
    statuses = {
        event.recipient_index: RECIPIENT_STATUS[kind]
        for event in events
        if (kind := event_type(event)) in RECIPIENT_STATUS
    }
    complained = {event.email.lower() for event in events if isinstance(event, SpamReport)}
    return msgspec.structs.replace(
        candidate,
        recipients=[(i, e, statuses.get(i, s)) for i, e, s in candidate.recipients],
        complained=candidate.complained | complained,
    )
