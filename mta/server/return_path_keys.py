"""The install's VERP return-path keys: `[inbound] return_path_keys`, else the keys file in
data_dir (one key a line, the first signing), made 0600 with one random key on first start."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from mta.core.return_path import ReturnPathKeys, new_key
from mta.server.key_files import read_keys_file

KEYS_FILE = "return_path_keys"


def return_path_keys(settings: Settings) -> ReturnPathKeys:
    """The configured keys, or those of the keys file (made on first use)."""
    if settings.inbound.return_path_keys:
        return ReturnPathKeys(tuple(settings.inbound.return_path_keys))
    path = Path(settings.storage.data_dir) / KEYS_FILE
    try:
        return ReturnPathKeys(tuple(read_keys_file(path, new_key)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
