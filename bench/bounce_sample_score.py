"""Score the inbound classifier on a folder of bounce samples kept outside the repository
(evaluation only): the share of files whose failed addresses and permanence match.

Usage: bench/bounce_sample_score.py FOLDER EXPECTED.json [--misses]

EXPECTED.json maps a file name (relative to FOLDER) to the list of [address, hard] pairs
the file should yield, or to null to leave the file out (no right answer can be found in
it). A file matches when the classifier's recipients are exactly those addresses (compared
case-insensitively, as a set) each with the expected `hard` verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mta.inbound_mail.parsing.classify import classify_message


def _found(data: bytes) -> set[tuple[str, bool]]:
    report = classify_message(data)
    return {(r.address.lower(), r.hard) for r in report.recipients}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("expected", type=Path)
    parser.add_argument("--misses", action="store_true", help="print every miss")
    args = parser.parse_args()
    expected: dict[str, list[list[object]] | None] = json.loads(args.expected.read_text())
    scored = matched = 0
    for name, rows in sorted(expected.items()):
        if rows is None:
            continue
        scored += 1
        want = {(str(address).lower(), bool(hard)) for address, hard in rows}
        got = _found((args.folder / name).read_bytes())
        if got == want:
            matched += 1
        elif args.misses:
            print(f"  {name}: want {sorted(want)} got {sorted(got)}")
    share = 100.0 * matched / scored if scored else 0.0
    print(f"matched {matched} of {scored} files: {share:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
