"""`scaisend db current` and `scaisend db upgrade`, run as the command is."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from mta.db.engine import head_revision


def _scaisend(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mta.server.cli.main", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_db_current_then_upgrade(tmp_path: Path) -> None:
    config = tmp_path / "scaisend.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n')
    head = head_revision()

    before = _scaisend("db", "current", "--config", str(config))
    assert (before.returncode, before.stdout) == (1, f"none (head is {head})\n"), before.stderr
    assert f"no database at {tmp_path / 'var' / 'scaisend.db'}" in before.stderr
    assert not (tmp_path / "var").exists()  # `db current` looks, it creates nothing

    upgraded = _scaisend("db", "--config", str(config), "upgrade")
    assert (upgraded.returncode, upgraded.stdout) == (0, f"{head} (head)\n"), upgraded.stderr
    assert (tmp_path / "var" / "scaisend.db").exists()

    after = _scaisend("db", "current", "--config", str(config))
    assert (after.returncode, after.stdout) == (0, f"{head} (head)\n")


def test_db_upgrade_refuses_a_foreign_schema(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    with sqlite3.connect(tmp_path / "var" / "scaisend.db") as db:
        db.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY)")
    config = tmp_path / "scaisend.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "var"}"\n')
    result = _scaisend("db", "upgrade", "--config", str(config))
    assert result.returncode == 2
    assert "does not match the baseline" in result.stderr
