"""The `scaisend inbound` commands: `classify FILE|-` prints what the inbound MX makes of one
message (JSON), `-` read from standard input; `classify --corpus DIR` scores the parser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Any

import msgspec

from config.settings import SmtpSettings
from mta.core.errors import ValidationError
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.report import Report

# The MX takes nothing larger (`[smtp] max_message_bytes`, its default), nor does this.
MAX_MESSAGE_BYTES = SmtpSettings().max_message_bytes
RECIPIENT_FIELDS = (
    "address", "action", "status", "diagnostic", "classification", "bounce_type", "hard", "reason",
)  # fmt: skip


def add_inbound_commands(commands: Any) -> None:
    inbound = commands.add_parser("inbound", help="inspect inbound bounces and complaints")
    inbound.add_argument("--config", help="unused; accepted like every command's")
    actions = inbound.add_subparsers(dest="action", required=True)
    classify = actions.add_parser("classify", help="print the parse of one received message")
    classify.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="the message (RFC 5322 bytes), '-' or none to read it from standard input; "
        f"at most {MAX_MESSAGE_BYTES} bytes",
    )
    classify.add_argument(
        "--corpus", metavar="DIR", help="score a corpus folder instead (see docs/inbound.md)"
    )


def report_json(report: Report) -> dict[str, Any]:
    """The command's JSON for one report."""
    return {
        "kind": report.kind,
        "feedback_type": report.feedback_type,
        "reporter": report.reporter,
        "recipients": [
            {name: getattr(recipient, name) for name in RECIPIENT_FIELDS}
            for recipient in report.recipients
        ],
        "original_headers": report.original_headers,
    }


def _corpus(folder: str) -> int:
    from mta.server.cli.corpus import score_corpus

    score = score_corpus(Path(folder))
    if not score.total:
        print(f"scaisend: no corpus expectations under {folder}", file=sys.stderr)
        return 2
    print(f"matched {score.matched} of {score.total} files: {score.share:.1%}")
    for reason, count in score.misses_by_reason().items():
        print(f"  misses, expected {reason}: {count}")
    for miss in score.misses:
        print(f"  {miss.file}: {miss.why}")
    return 0


def _read_message(source: str) -> bytes:
    """The message's bytes from a file or, for `-`, standard input; ValueError when it is
    larger than the MX would take."""
    if source == "-":
        return _bounded(sys.stdin.buffer, "standard input")
    with Path(source).open("rb") as handle:
        return _bounded(handle, source)


def _bounded(handle: IO[bytes], name: str) -> bytes:
    data = handle.read(MAX_MESSAGE_BYTES + 1)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ValueError(f"{name} is larger than a message may be ({MAX_MESSAGE_BYTES} bytes)")
    return data


def run_inbound_command(args: argparse.Namespace) -> int:
    if args.corpus:
        return _corpus(args.corpus)
    source = args.file or "-"
    if args.file is None and sys.stdin.isatty():  # nothing piped in: say so, do not wait
        print("scaisend: inbound classify needs FILE, - (stdin) or --corpus DIR", file=sys.stderr)
        return 2
    try:
        data = _read_message(source)
    except OSError as exc:
        name = "standard input" if source == "-" else source
        print(f"scaisend: cannot read {name}: {exc.strerror}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"scaisend: {exc}", file=sys.stderr)
        return 2
    try:
        report = classify_message(data)
    except ValidationError as exc:
        print(f"scaisend: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(report_json(report))).decode())
    sys.stdout.write("\n")
    return 0
