"""The install's VERP return-path keys: `[inbound] return_path_keys`, else the keys file in
data_dir (one key a line, the first signing), made 0600 with one random key on first start."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from config.settings import Settings
from mta.core.return_path import ReturnPathKeys, new_key

KEYS_FILE = "return_path_keys"


def return_path_keys(settings: Settings) -> ReturnPathKeys:
    """The configured keys, or those of the keys file (made on first use)."""
    if settings.inbound.return_path_keys:
        return ReturnPathKeys(tuple(settings.inbound.return_path_keys))
    path = Path(settings.storage.data_dir) / KEYS_FILE
    if not path.exists():
        create_keys_file(path)
    lines = [line.strip() for line in path.read_text().splitlines()]
    try:
        return ReturnPathKeys(tuple(line for line in lines if line and not line.startswith("#")))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def create_keys_file(path: Path) -> None:
    """Write one random key, whole or not at all: several workers may start at once, and
    none may read a half-written file (a temporary file linked into place, never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{KEYS_FILE}.", dir=path.parent)  # made 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(new_key() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another worker was first: keep its key
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
