"""SIGHUP's config half: read the config file again (same loader, environment included), keep
restart-only keys at their running value, and log what changed; `mta/server/app.py` applies it."""

from __future__ import annotations

import logging
import os
from typing import Protocol

import msgspec

from config.loader import ConfigError, load_settings
from config.reload import SettingsChange, diff_settings, effective_settings
from config.settings import HttpSettings, Settings

log = logging.getLogger(__name__)

ConfigPath = str | os.PathLike[str] | None


class HttpEdge(Protocol):
    """The HTTP side's one reload seam (control.edge.ApiEdge)."""

    def apply_settings(self, http: HttpSettings) -> None: ...


def read_settings(path: ConfigPath, running: Settings) -> tuple[Settings, SettingsChange] | None:
    """The settings to run on from now and what changed; None (one error line logged) when
    the file does not load or validate, so the server keeps running as it is."""
    try:
        new = load_settings(path)
        merged = effective_settings(running, new)
    except (ConfigError, msgspec.ValidationError) as exc:
        log.error("event=config_reload_failed config=%s error=%r", path or "-", str(exc))
        return None
    return merged, diff_settings(running, new)


def log_change(path: ConfigPath, change: SettingsChange) -> None:
    """One warning naming the keys kept until a restart (if any), then one line for the rest."""
    if change.restart:
        log.warning(
            "event=config_restart_needed config=%s keys=%s", path or "-", ",".join(change.restart)
        )
    log.info(
        "event=config_reloaded config=%s applied=%s", path or "-", ",".join(change.applied) or "-"
    )
