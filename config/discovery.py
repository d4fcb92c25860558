"""Which config file a `scaisend` command reads (--config, SCAISEND_CONFIG, the system file,
else the embedded default) and what the relative paths written in a file are relative to."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

SYSTEM_CONFIG = "/etc/scaisend/scaisend.toml"
CONFIG_ENV = "SCAISEND_CONFIG"
# Where the system file is looked for instead of SYSTEM_CONFIG: for tests and packagers.
SYSTEM_CONFIG_ENV = "SCAISEND_SYSTEM_CONFIG"
DEFAULT_DATA_DIR = "./var"
CONFIG_HELP = (
    f"TOML file; default: ${CONFIG_ENV}, else {SYSTEM_CONFIG} if it exists, else the "
    "embedded defaults (relative paths in a file are relative to its directory)"
)
# (section, key) of the settings that name a file or directory.
PATH_KEYS = (
    ("storage", "data_dir"),
    ("smtp", "tls_cert"),
    ("smtp", "tls_key"),
    ("delivery", "tls_ca_file"),
)

Origin = Literal["--config", "SCAISEND_CONFIG", "system", "default"]


class ConfigSource(msgspec.Struct, frozen=True, kw_only=True):
    """The file a command reads (an absolute path), or None for the embedded default."""

    path: str | None
    origin: Origin
    system_path: str = SYSTEM_CONFIG

    def describe(self) -> str:
        if self.origin == "--config":
            return f"--config {self.path}"
        if self.origin == "SCAISEND_CONFIG":
            return f"{CONFIG_ENV}={self.path}"
        if self.origin == "system":
            return f"{self.path}"
        return f"the embedded default (no --config, {CONFIG_ENV} not set, no {self.system_path})"


def find_config(explicit: str | None, environ: Mapping[str, str]) -> ConfigSource:
    """--config, else $SCAISEND_CONFIG, else the system file if it exists, else no file.
    A file named by --config or the variable must exist (the loader says so if not)."""
    system = environ.get(SYSTEM_CONFIG_ENV) or SYSTEM_CONFIG
    if explicit:
        return ConfigSource(path=_absolute(explicit), origin="--config", system_path=system)
    if named := environ.get(CONFIG_ENV):
        return ConfigSource(path=_absolute(named), origin="SCAISEND_CONFIG", system_path=system)
    if os.path.lexists(system):
        return ConfigSource(path=_absolute(system), origin="system", system_path=system)
    return ConfigSource(path=None, origin="default", system_path=system)


def _absolute(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def resolve_relative_paths(data: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """A copy of a config file's `data` with its relative paths made relative to the file's
    directory, and `data_dir` (./var when the file sets none) too: every command given the
    same file finds the same data, wherever it runs from."""
    resolved = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    storage = resolved.setdefault("storage", {})
    if isinstance(storage, dict):
        storage.setdefault("data_dir", DEFAULT_DATA_DIR)
    for section, key in PATH_KEYS:
        table = resolved.get(section)
        if not isinstance(table, dict):
            continue
        value = table.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            table[key] = os.path.normpath(config_dir / value)
    return resolved
