"""Logging set-up: one line per event to stdout, logfmt or JSON, for journald."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (worker := getattr(record, "worker", None)) is not None:
            data["worker"] = worker
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        worker = getattr(record, "worker", None)
        tag = "" if worker is None else f"worker={worker} "
        line = (
            f"ts={stamp} level={record.levelname.lower()} logger={record.name} "
            f"{tag}{record.getMessage()}"
        )
        if record.exc_info:
            line += " exc=" + json.dumps(self.formatException(record.exc_info))
        return line


def configure_logging(
    level: str, fmt: str, stream: TextIO | None = None, worker: int | None = None
) -> None:
    """One handler on the root logger; stdout by default (journald), stderr for commands
    whose stdout is their answer. A worker's lines say `worker=k` (they share one stream)."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    if worker is not None:
        handler.addFilter(_WorkerTag(worker))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request: ours say more
    mail_log = logging.getLogger("mail.log")  # aiosmtpd: per-command chatter at INFO
    mail_log.setLevel(logging.WARNING)
    mail_log.addFilter(_drop_login_data_warning)


def apply_log_settings(level: str, fmt: str) -> None:
    """A reload: the new level, and the new format on the handlers `configure_logging` set
    up (other handlers, such as a test's capture, are left alone)."""
    formatter = JsonFormatter() if fmt == "json" else LogfmtFormatter()
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter | LogfmtFormatter):
            handler.setFormatter(formatter)
    root.setLevel(level.upper())


class _WorkerTag(logging.Filter):
    def __init__(self, worker: int) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self.worker
        return True


def _drop_login_data_warning(record: logging.LogRecord) -> bool:
    """aiosmtpd warns on every successful AUTH that a field it sets itself is deprecated."""
    return "login_data is deprecated" not in record.getMessage()
