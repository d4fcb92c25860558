"""Waiting for something a server does in the background, bounded in time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """`check()`'s first truthy answer, asked every 0.1 s; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
