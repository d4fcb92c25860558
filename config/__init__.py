"""Configuration: the settings schema and its TOML + environment loader."""

from config.checks import parse_hostport
from config.loader import ConfigError, load_settings
from config.settings import Settings

__all__ = ["ConfigError", "Settings", "load_settings", "parse_hostport"]
