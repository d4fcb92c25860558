"""Log set-up and its reload: the level and format change in place, and only on the handler
`configure_logging` installed (another one, such as a test's capture, keeps its own)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from mta.server.logs import apply_log_settings, configure_logging


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_a_reload_changes_level_and_format(root: logging.Logger) -> None:
    stream = io.StringIO()
    configure_logging("info", "logfmt", stream)
    other = logging.StreamHandler(io.StringIO())
    plain = logging.Formatter("%(message)s")
    other.setFormatter(plain)
    root.addHandler(other)
    log = logging.getLogger("scaisend.test")
    log.debug("event=hidden")
    log.info("event=before")
    apply_log_settings("debug", "json")
    log.debug("event=shown")
    first, second = stream.getvalue().splitlines()
    assert first.startswith("ts=") and "level=info" in first and "event=before" in first
    assert json.loads(second)["level"] == "debug" and json.loads(second)["msg"] == "event=shown"
    assert other.formatter is plain
    apply_log_settings("warning", "logfmt")
    log.info("event=quiet")
    assert len(stream.getvalue().splitlines()) == 2
