"""A short `[auth] jwt_secret` refused by `check-config` and `serve` (status 2, one line
naming the key), and the secret generated when none is set long enough to be accepted."""

from __future__ import annotations

from pathlib import Path

from config.loader import settings_from_mapping
from mta.server.build import jwt_secret
from tests.integration.test_cli import scaisend
from tests.support.server import write_config


def test_a_short_jwt_secret_is_refused_by_check_config_and_serve(tmp_path: Path) -> None:
    data = {"storage": {"data_dir": str(tmp_path / "v")}}
    for secret in ("a", "x" * 31):
        config = write_config(tmp_path / "short.toml", data | {"auth": {"jwt_secret": secret}})
        for command in ("check-config", "serve"):
            result = scaisend(command, "--config", str(config))
            assert result.returncode == 2, (command, result.stderr)
            [line] = result.stderr.strip().splitlines()
            assert "auth.jwt_secret: must be at least 32 bytes" in line
    assert not (tmp_path / "v").exists()  # serve stopped before making anything
    config = write_config(tmp_path / "ok.toml", data | {"auth": {"jwt_secret": "x" * 32}})
    assert scaisend("check-config", "--config", str(config)).returncode == 0


def test_the_generated_secret_passes_the_rule(tmp_path: Path) -> None:
    generated = jwt_secret(settings_from_mapping({"storage": {"data_dir": str(tmp_path)}}))
    assert settings_from_mapping({"auth": {"jwt_secret": generated}}).auth.jwt_secret
    assert len(generated.encode()) >= 32
