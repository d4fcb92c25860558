"""Print the inbound parser's score over the public bounce corpus (../shared/corpus by
default): the share of files matching their expectation and the misses per reason."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mta.server.cli.inbound import run_inbound_command


def main() -> int:
    default = Path(__file__).resolve().parents[2] / "shared" / "corpus"
    folder = sys.argv[1] if len(sys.argv) > 1 else str(default)
    return run_inbound_command(argparse.Namespace(corpus=folder, file=None))


if __name__ == "__main__":
    raise SystemExit(main())
