"""What ScaiSend writes under data_dir (database, secrets, spool, keys, locks) is its user's
alone: the umask of every command that writes there, and data_dir made 0700 at start.

Files are made 0600 and directories 0700 whatever the umask the process was started with; a
data_dir an earlier release left readable keeps its mode (it may be shared on purpose) with a
warning, while the files of ours in it that hold secrets are made 0600 again.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)
PRIVATE_UMASK = 0o077  # files 0600, directories 0700
# Files at the top of data_dir that hold secrets or data (the SQLite files, the JWT secret).
OURS = ("scaisend.db", "scaisend.db-wal", "scaisend.db-shm", "jwt_secret", "queue-held.json")


def keep_private() -> None:
    """Every file and directory this process (and the workers it starts) creates is its
    user's alone; SQLite, the spool and libraries create files without a mode of ours."""
    os.umask(PRIVATE_UMASK)


def private_dir(path: Path) -> None:
    """`path` made 0700 (with its missing parents) if it is not there; else warned about when
    others may read it, and the files of ours in it tightened to 0600."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "event=data_dir_not_private path=%s mode=%o hint=chmod_700_the_data_dir", path, mode
        )
    for name in OURS:
        tighten(path / name)


def tighten(path: Path) -> None:
    """A file of ours that others may read made 0600 (nothing when it is not there)."""
    try:
        found = path.lstat()
        if stat.S_ISREG(found.st_mode) and found.st_mode & 0o077:
            os.chmod(path, stat.S_IMODE(found.st_mode) & 0o700)
    except FileNotFoundError:
        return
    except PermissionError:
        log.warning("event=data_file_not_private path=%s hint=chmod_600", path)
