"""Measure the inbound parser against a public corpus with expected outcomes (Sisimai's
set-of-emails, parsedmarc's failure reports): the share of files whose recipient count and
hard/soft verdict match, and the misses by expected reason."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from mta.core.errors import ValidationError
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.formats import bounce_text
from mta.inbound_mail.parsing.parts import parse_bytes
from mta.inbound_mail.parsing.reasons import recipient_command, sisimai_hard
from mta.inbound_mail.parsing.report import Report

SISIMAI_DIR = "sisimai-5.1.0p3"
PARSEDMARC_DIR = "parsedmarc-failure-reports"


class Miss(msgspec.Struct, frozen=True):
    file: str
    expected_reason: str
    why: str


class CorpusScore(msgspec.Struct, frozen=True):
    total: int
    matched: int
    misses: list[Miss]

    @property
    def share(self) -> float:
        return self.matched / self.total if self.total else 0.0

    def misses_by_reason(self) -> dict[str, int]:
        return dict(Counter(miss.expected_reason for miss in self.misses).most_common())


def _bounces(report: Report) -> int:
    return len(report.recipients) if report.kind == "dsn" else 0


def sisimai_miss(rows: list[dict[str, Any]], report: Report, transcript: str = "") -> str:
    """Why `report` disagrees with Sisimai's rows for one file, or "" when it agrees.

    ARF rows (reason feedback) need kind arf and the same feedback type; vacation rows need
    an auto-reply; other rows need the same number of recipients and, recipient for
    recipient in sorted order, the same hard verdict by Sisimai's definition (which is not
    our event's: Sisimai calls an expired delivery soft)."""
    reasons = {row["reason"] for row in rows}
    if reasons == {"feedback"}:
        want = rows[0].get("feedbacktype", "")
        if report.kind != "arf" or report.feedback_type != want:
            return f"want arf {want}, got {report.kind} {report.feedback_type}"
        return ""
    if reasons == {"vacation"}:
        return "" if report.kind == "autoreply" else f"want autoreply, got {report.kind}"
    if _bounces(report) != len(rows):
        return f"want {len(rows)} recipients, got {_bounces(report)} ({report.kind})"
    want_hard = sorted(bool(row["hardbounce"]) for row in rows)
    got_hard = sorted(
        sisimai_hard(
            r.reason,
            r.status,
            recipient_command(r.address, r.diagnostic, transcript),
            r.diagnostic,
        )
        for r in report.recipients
    )
    if want_hard != got_hard:
        got = ",".join(f"{r.status}/{r.reason}" for r in report.recipients)
        return f"hard {want_hard} != {got_hard} ({got})"
    return ""


def _transcript(path: Path) -> str:
    """The human-readable text of a bounce, where Sendmail's session transcript sits."""
    try:
        return bounce_text(parse_bytes(path.read_bytes()))
    except ValidationError:
        return ""


def _classify_file(path: Path) -> Report:
    try:
        return classify_message(path.read_bytes())
    except ValidationError:
        return Report(kind="other")


def score_corpus(root: Path) -> CorpusScore:
    """Score every corpus file with an expectation under `root` (the corpus folder)."""
    misses: list[Miss] = []
    total = 0
    sisimai = root / SISIMAI_DIR
    if (sisimai / "expected.json").is_file():
        expected = json.loads((sisimai / "expected.json").read_text())
        for name, entry in sorted(expected["expected"].items()):
            rows = entry["results"]
            path = sisimai / "maildir-bsd" / name
            why = sisimai_miss(rows, _classify_file(path), _transcript(path))
            total += 1
            if why:
                misses.append(Miss(name, rows[0]["reason"] if rows else "", why))
        for name in expected.get("not_bounces", []):
            report = _classify_file(sisimai / "maildir-not" / name)
            total += 1
            if _bounces(report) or report.kind == "arf":
                misses.append(Miss(name, "not a bounce", f"got {report.kind}"))
    total, found = _score_parsedmarc(root / PARSEDMARC_DIR, total)
    misses.extend(found)
    return CorpusScore(total=total, matched=total - len(misses), misses=misses)


def _score_parsedmarc(folder: Path, total: int) -> tuple[int, list[Miss]]:
    misses: list[Miss] = []
    if not (folder / "expected.json").is_file():
        return total, misses
    expected = json.loads((folder / "expected.json").read_text())
    for name, entry in sorted(expected["files"].items()):
        report = _classify_file(folder / name)
        total += 1
        if entry["is_arf"]:
            if report.kind != "arf" or report.feedback_type not in entry["feedback_type"]:
                misses.append(Miss(name, "feedback", f"got {report.kind}"))
        elif report.kind == "arf" or _bounces(report):
            misses.append(Miss(name, "not arf", f"got {report.kind}"))
    return total, misses
