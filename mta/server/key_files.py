"""Key files in data_dir (the return-path MAC keys, the keys sealing secrets at rest): one
key a line, the first in use and every one accepted, made 0600 with one new key on first
start, whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from config.settings import Settings


def read_keys_file(path: Path, new_key: Callable[[], str]) -> list[str]:
    """The keys of `path` (made with one `new_key()` if it is not there); blank lines and
    lines starting with # are skipped."""
    if not path.exists():
        create_keys_file(path, new_key)
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def create_keys_file(path: Path, new_key: Callable[[], str]) -> None:
    """Write one random key, whole or not at all: several workers may start at once, and
    none may read a half-written file (a temporary file linked into place, never replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # made 0600
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


def secret_file(settings: Settings) -> Path:
    """Where the generated JWT secret is kept when `[auth] jwt_secret` is not set."""
    return Path(settings.storage.data_dir) / "jwt_secret"
