"""Load Settings from one TOML file plus `SCAISEND__SECTION__KEY` environment overrides.

Errors name the offending key (`smtp.hostname`), so a bad config is refused at start.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from config.discovery import resolve_relative_paths
from config.settings import Settings

ENV_PREFIX = "SCAISEND__"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key."""


def parse_env_value(text: str) -> Any:
    """A TOML literal when the text is one (`25`, `true`, `["a"]`), else the raw string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return a copy of `data` with every SCAISEND__SECTION__KEY variable applied."""
    merged = {key: dict(value) if isinstance(value, dict) else value for key, value in data.items()}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"{name}: expected {ENV_PREFIX}SECTION__KEY")
        section, key = parts
        target = merged.setdefault(section, {})
        if not isinstance(target, dict):
            raise ConfigError(f"{name}: [{section}] is not a section")
        target[key] = parse_env_value(raw)
    return merged


def _key_path(message: str) -> str:
    """Turn msgspec's "- at `$.smtp.hostname`" into "smtp.hostname: ..."."""
    match = re.search(r" - at `\$\.?([^`]*)`$", message)
    if not match:
        top = re.match(r"Object contains unknown field `([^`]+)`", message)
        return f"{top.group(1)}: unknown section" if top else message
    path = re.sub(r"\[(\d+)\]", r".\1", match.group(1)) or "(top level)"
    detail = message[: match.start()]
    unknown = re.match(r"Object contains unknown field `([^`]+)`", detail)
    if unknown:
        return f"{path + '.' if match.group(1) else ''}{unknown.group(1)}: unknown key"
    named = re.match(r"(\w+): (.*)", detail)
    if named:  # __post_init__ messages start with the key they are about
        return f"{path}.{named.group(1)}: {named.group(2)}"
    return f"{path}: {detail}"


def settings_from_mapping(data: Mapping[str, Any]) -> Settings:
    try:
        return msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(_key_path(str(exc))) from None


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the TOML file (if any), apply environment overrides, validate. Relative paths
    in the file are relative to its directory (config/discovery.py); in the environment or
    the embedded default, to the current directory."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        data = resolve_relative_paths(data, Path(os.path.abspath(path)).parent)
    data = apply_env_overrides(data, os.environ if environ is None else environ)
    return settings_from_mapping(data)
