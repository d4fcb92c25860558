"""`scaisend token` and `scaisend queue` find the running server's data through its config
from any directory (--config, SCAISEND_CONFIG, the system file), say what they looked for
and create nothing when there is none; `token --ttl` is positive and its options described."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ScaisendServer, write_config
from tests.support.servers import ServerFactory

ROOT = Path(__file__).resolve().parents[2]


def scaisend(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, from `cwd`; no system file unless `env` names one."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCAISEND") or k == "SCAISEND"}
    base["PYTHONPATH"] = str(ROOT)
    base["SCAISEND_SYSTEM_CONFIG"] = str(cwd / "no-system-config.toml")
    return subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
        cwd=cwd,
    )


@pytest.fixture
def server(make_server: ServerFactory) -> ScaisendServer:
    """A server whose config names its data_dir relatively: beside the config file."""
    return make_server({"storage": {"data_dir": "data"}})


def accepted(server: ScaisendServer, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return server.http.get(f"{server.base_url}/v3/scopes", headers=headers).status_code


def test_a_token_made_from_another_directory_is_the_servers(
    server: ScaisendServer, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = str(server.config)
    runs = {
        "--config": scaisend("token", "--account", "acme", "--config", config, cwd=elsewhere),
        "relative --config": scaisend(
            "token", "--account", "acme", "--config", os.path.relpath(config, elsewhere),
            cwd=elsewhere,
        ),
        "SCAISEND_CONFIG": scaisend(
            "token", "--account", "acme", cwd=elsewhere, env={"SCAISEND_CONFIG": config}
        ),
        "system file": scaisend(
            "token", "--account", "acme", cwd=elsewhere, env={"SCAISEND_SYSTEM_CONFIG": config}
        ),
    }  # fmt: skip
    for how, run in runs.items():
        assert run.returncode == 0, (how, run.stderr)
        assert accepted(server, run.stdout.splitlines()[-1]) == 200, how
    assert list(elsewhere.iterdir()) == []  # no second data_dir, no second secret
    secret = server.workdir / "data" / "jwt_secret"  # where serve put it: beside the config
    assert secret.stat().st_mode & 0o077 == 0
    assert not (ROOT / "data").exists()


def test_check_config_says_which_file_it_read(server: ScaisendServer, tmp_path: Path) -> None:
    named = scaisend("check-config", cwd=tmp_path, env={"SCAISEND_CONFIG": str(server.config)})
    assert named.stdout == f"configuration ok: SCAISEND_CONFIG={server.config}\n"
    system = scaisend(
        "check-config", cwd=tmp_path, env={"SCAISEND_SYSTEM_CONFIG": str(server.config)}
    )
    assert system.stdout == f"configuration ok: {server.config}\n"
    default = scaisend("check-config", cwd=tmp_path)
    assert default.stdout.startswith("configuration ok: the embedded default")
    missing = scaisend("check-config", cwd=tmp_path, env={"SCAISEND_CONFIG": "gone.toml"})
    assert missing.returncode == 2
    assert f"cannot read config {tmp_path / 'gone.toml'}" in missing.stderr
    assert "SCAISEND_CONFIG" in missing.stderr


def test_without_a_servers_data_token_says_what_it_looked_for(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    result = scaisend("token", "--account", "acme", cwd=cwd)
    assert (result.returncode, result.stdout) == (1, "")
    assert f"{cwd / 'var' / 'jwt_secret'} and {cwd / 'var' / 'scaisend.db'}" in result.stderr
    assert "the default ./var, in the current directory" in result.stderr
    assert f"the embedded default (no --config, SCAISEND_CONFIG not set, no {cwd}" in (
        result.stderr
    )
    assert list(cwd.iterdir()) == []  # no fresh secret

    (tmp_path / "etc").mkdir()
    config = write_config(tmp_path / "etc" / "scaisend.toml", {"smtp": {"hostname": "a.test"}})
    for command in (("token", "--account", "acme"), ("queue", "list")):
        found = scaisend(*command, "--config", str(config), cwd=cwd)
        assert found.returncode == 1, command
        assert f"data_dir {tmp_path / 'etc' / 'var'} (from {config})" in found.stderr, command
        assert f"configuration: --config {config}" in found.stderr
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == ["scaisend.toml"]
    assert list(cwd.iterdir()) == []


@pytest.mark.parametrize("ttl", ["0", "-60", "soon"])
def test_token_ttl_must_be_a_positive_number_of_seconds(tmp_path: Path, ttl: str) -> None:
    result = scaisend("token", "--account", "acme", "--ttl", ttl, cwd=tmp_path)
    assert result.returncode == 2
    assert "argument --ttl:" in result.stderr and "seconds" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_token_help_describes_each_option(tmp_path: Path) -> None:
    text = " ".join(scaisend("token", "--help", cwd=tmp_path).stdout.split())
    assert "--account NAME the account's name (created in the database if new)" in text
    assert "--role {admin,user} admin may also steer the account's queue" in text
    assert "--operator the instance's operator: the accounts API and every account's queue" in text
    assert "--ttl SECONDS seconds until the token expires, at least 1 (default 86400)" in text
    assert "--config CONFIG TOML file; default: $SCAISEND_CONFIG, else /etc/scaisend" in text
