"""A guard for inputs that once took quadratic or worse time: the code runs in a fresh
interpreter that must finish within a generous limit (it takes well under a second)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Far above the fraction of a second these take when linear; the superlinear versions
# took hours on the same inputs. A hang guard, not a speed goal (those live in bench/).
GUARD_SECONDS = 60.0


def completes(source: str) -> str:
    """Run `source` (Python) in a new interpreter; its stdout. Fails the test when it has
    not finished within GUARD_SECONDS or exits with an error."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=GUARD_SECONDS,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
