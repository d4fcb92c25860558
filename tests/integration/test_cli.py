"""The `scaisend` command: check-config names bad keys, token prints an accepted JWT, and
serve refuses a bad configuration at start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt

from tests.support.server import write_config

ROOT = Path(__file__).resolve().parents[2]


def scaisend(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCAISEND")}
    base["SCAISEND_SYSTEM_CONFIG"] = "/nonexistent/scaisend.toml"  # whatever this host has
    return subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd=cwd,
    )


def test_check_config_accepts_the_example_and_names_bad_keys(tmp_path: Path) -> None:
    ok = scaisend("check-config", "--config", str(ROOT / "config" / "scaisend.example.toml"))
    assert ok.returncode == 0 and "ok" in ok.stdout
    bad = write_config(tmp_path / "bad.toml", {"smtp": {"hostnme": "mx.example.com"}})
    result = scaisend("check-config", "--config", str(bad))
    assert result.returncode == 2 and "smtp.hostnme: unknown key" in result.stderr
    env = scaisend("check-config", env={"SCAISEND__DELIVERY__SMTP_PORT": "seventy"})
    assert env.returncode == 2 and "delivery.smtp_port" in env.stderr


def test_serve_refuses_a_bad_value_at_start(tmp_path: Path) -> None:
    bad = write_config(tmp_path / "bad.toml", {"http": {"listen": "127.0.0.1:99999"}})
    result = scaisend("serve", "--config", str(bad))
    assert result.returncode == 2 and "http.listen" in result.stderr


def test_token_prints_a_jwt_for_the_account(tmp_path: Path) -> None:
    """With `[auth] jwt_secret` and a migrated database, no server need have run."""
    secret = "s" * 48
    sections = {"storage": {"data_dir": str(tmp_path / "v")}, "auth": {"jwt_secret": secret}}
    config = write_config(tmp_path / "c.toml", sections)
    assert scaisend("db", "upgrade", "--config", str(config)).returncode == 0
    first = scaisend(
        "token", "--account", "acme", "--role", "user", "--ttl", "60", "--config", str(config)
    )
    again = scaisend("token", "--account", "acme", "--config", str(config))
    assert first.returncode == 0, first.stderr
    claims = jwt.decode(first.stdout.splitlines()[-1], secret, algorithms=["HS256"])
    assert claims["role"] == "user" and claims["exp"] - claims["iat"] == 60
    again_claims = jwt.decode(again.stdout.splitlines()[-1], secret, algorithms=["HS256"])
    assert again_claims["account"] == claims["account"] and again_claims["role"] == "admin"
    assert not (tmp_path / "v" / "jwt_secret").exists()  # the configured secret, no other
