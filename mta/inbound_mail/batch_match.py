"""Matching a batch of classified reports to our messages: the verified references of each,
the candidates of all in one look-up, and the events each gives, emitted to the bus in
order against the state the earlier reports of the batch leave (so a DSN delivered twice
bounces its recipient once, as the bus has not written yet)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.events import event_type
from mta.core.return_path import ReturnPathKeys
from mta.events.bus import EventBus
from mta.inbound_mail.authcheck import AuthCheck, aligned
from mta.inbound_mail.candidates import load_candidates
from mta.inbound_mail.matching import (
    AUTH_FAILURE,
    Candidate,
    Reference,
    after_events,
    authorised,
    events_for,
    references,
)
from mta.inbound_mail.parsing.report import Report

log = logging.getLogger(__name__)
ACTIONABLE = ("dsn", "arf")
MAX_NOTES = 5  # refused references named in the record's note


class Outcome(msgspec.Struct, kw_only=True):
    """What one received message did: the message it matched and the events it gave, or
    why none (`note`)."""

    message_id: str | None = None
    account_id: str | None = None
    events: list[str] = msgspec.field(default_factory=list)
    note: str = ""


class Matchable(msgspec.Struct, frozen=True, kw_only=True):
    """One received message as matching sees it: its report (None when its MIME was refused,
    `error` saying why), envelope recipients and authentication."""

    report: Report | None
    rcpt_tos: list[str]
    auth: AuthCheck | None = None
    error: str = ""


class Plan(msgspec.Struct, kw_only=True):
    """The verified references of one actionable report, and the note for the refused."""

    report: Report
    refs: list[Reference]
    note: str


def is_dmarc_failure(report: Report) -> bool:
    """An RFC 6591 authentication failure report: its own kind, never a complaint."""
    return report.kind == "arf" and report.feedback_type == AUTH_FAILURE


def record_kind(report: Report | None) -> str:
    """The kind recorded: the parser's, with DMARC failure reports apart (`auth-failure`),
    "refused" for MIME the parser refused."""
    if report is None:
        return "refused"
    return AUTH_FAILURE if is_dmarc_failure(report) else report.kind


class BatchMatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        bus: EventBus,
        keys: ReturnPathKeys,
        fbl: frozenset[str],
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._keys = keys
        self._fbl = fbl

    async def outcomes(self, batch: Sequence[Matchable]) -> list[Outcome]:
        """Each message's outcome, its events emitted to the bus (not yet written)."""
        plans = [self._plan(item) for item in batch]
        ids = {ref.message_id for plan in plans if isinstance(plan, Plan) for ref in plan.refs}
        candidates = await load_candidates(self._sessions, ids) if ids else {}
        if ids - candidates.keys():  # a fast bounce can come back before its message is logged
            await self._bus.written()
            candidates |= await load_candidates(self._sessions, ids - candidates.keys())
        return [self._apply(plan, candidates) if isinstance(plan, Plan) else plan for plan in plans]

    def _plan(self, item: Matchable) -> Plan | Outcome:
        report = item.report
        if report is None:
            return Outcome(note=f"refused: {item.error}")
        if is_dmarc_failure(report):
            return Outcome(note="DMARC failure report: recorded, never a complaint")
        if report.kind not in ACTIONABLE:
            return Outcome(note=f"{report.kind} discarded")
        fbl = self._trusted_fbl(report, item.rcpt_tos, item.auth)
        refs, refused = references(report, item.rcpt_tos, self._keys, trusted_fbl=fbl == "trusted")
        if fbl == "untrusted":
            refused.insert(0, "FBL report not DKIM-signed by its From domain")
        if refused:
            log.warning("event=inbound_unverified rcpt=%s why=%r", ",".join(item.rcpt_tos), refused)
        note = "; ".join(refused[:MAX_NOTES]) or ("unmatched" if not refs else "")
        return Plan(report=report, refs=refs, note=note)

    def _trusted_fbl(self, report: Report, rcpt_tos: list[str], auth: AuthCheck | None) -> str:
        """Whether an FBL address received it: "trusted" for an ARF report to one, DKIM-signed
        by its From domain; "untrusted" for another ARF report to one; "" for the rest."""
        if report.kind != "arf" or not any(r.lower().rstrip(".") in self._fbl for r in rcpt_tos):
            return ""
        return "trusted" if auth is not None and aligned(auth) else "untrusted"

    def _apply(self, plan: Plan, candidates: dict[str, Candidate]) -> Outcome:
        outcome = Outcome(note=plan.note)
        for ref in plan.refs:
            if ref.via != "rcpt" and outcome.message_id:
                continue
            note = self._apply_one(plan.report, ref, outcome, candidates)
            outcome.note = outcome.note or note
        if outcome.message_id and outcome.events:
            outcome.note = ""
        return outcome

    def _apply_one(
        self, report: Report, ref: Reference, outcome: Outcome, candidates: dict[str, Candidate]
    ) -> str:
        """Emit the events `ref` gives into `outcome`; the note when it gives none."""
        candidate = candidates.get(ref.message_id)
        if candidate is None:
            return f"unknown message {ref.message_id}"
        if not authorised(ref, candidate):
            log.warning(
                "event=inbound_foreign message_id=%s host=%s", ref.message_id, ref.host or "-"
            )
            return f"foreign reference to {ref.message_id}"
        outcome.message_id = outcome.message_id or candidate.message_id
        outcome.account_id = outcome.account_id or candidate.account_id
        events = events_for(report, candidate, ref.index)
        for event in events:
            self._bus.emit(event)
        candidates[ref.message_id] = after_events(candidate, events)
        outcome.events.extend(event_type(event) for event in events)
        return "" if events else "no new event (already recorded, or no matching recipient)"
