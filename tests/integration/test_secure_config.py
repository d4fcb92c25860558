"""A short `[auth] jwt_secret` refused by `check-config` and `serve` (status 2, one line
naming the key), the secret generated when none is set long enough to be accepted, and
everything a real `serve` writes under data_dir its user's alone under a permissive umask,
with the DKIM keys in the database sealed."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.loader import settings_from_mapping
from mta.server.build import jwt_secret
from mta.server.private_files import private_dir
from tests.integration.test_cli import scaisend
from tests.support.api import account_with_key
from tests.support.databases import Database
from tests.support.dns_server import DnsServer
from tests.support.server import write_config
from tests.support.servers import ServerFactory


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


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Processes started meanwhile (the server, its commands) inherit umask 022."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def modes(root: Path) -> dict[str, int]:
    """Every directory and regular file under `root` (itself included) and its mode."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        kind = path.lstat().st_mode
        if stat.S_ISDIR(kind) or stat.S_ISREG(kind):
            found[str(path.relative_to(root))] = stat.S_IMODE(kind)
    return found


DATABASE_FILES = ("scaisend.db", "scaisend.db-wal")


def test_serve_writes_data_dir_for_its_user_alone(
    permissive_umask: None, make_server: ServerFactory, dns_server: DnsServer, database: Database
) -> None:
    server = make_server()
    _, key = account_with_key(server, dns_server)
    mail = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "spooled",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    sent = httpx.post(
        f"{server.base_url}/v3/mail/send", json=mail, headers={"Authorization": f"Bearer {key}"}
    )
    assert sent.status_code == 202, sent.text
    found = modes(server.workdir / "var")  # while it runs: SQLite's -wal and -shm are there
    expected = {"jwt_secret", "secrets_keys", "spool", "tls", "tls/cert.pem", "tls/key.pem"}
    if not database.url:
        expected |= {"scaisend.db", "scaisend.db-wal", "scaisend.db-shm"}
        expected.add("scaisend.db-writers.lock")
        stored = b"".join((server.workdir / "var" / n).read_bytes() for n in DATABASE_FILES)
        assert b"mail.example.com" in stored  # the domain is there, its DKIM key sealed
        assert b"PRIVATE KEY" not in stored and b"sealed:v1:" in stored
    assert expected <= set(found), sorted(found)
    assert any(name.startswith("spool/") and found[name] == 0o600 for name in found)
    loose = {name: oct(mode) for name, mode in found.items() if mode not in (0o600, 0o700)}
    assert loose == {}


def test_a_data_dir_left_readable_is_warned_about_and_our_files_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    for name in ("jwt_secret", "scaisend.db", "notes.txt"):
        (data_dir / name).write_text("x")
        os.chmod(data_dir / name, 0o644)
    with caplog.at_level(logging.WARNING, logger="mta.server.private_files"):
        private_dir(data_dir)
    assert "event=data_dir_not_private" in caplog.text
    assert modes(data_dir) == {
        ".": 0o755,  # the operator's own choice, maybe shared: warned about, kept
        "jwt_secret": 0o600,
        "scaisend.db": 0o600,
        "notes.txt": 0o644,  # not ours
    }
    fresh = tmp_path / "new" / "var"
    private_dir(fresh)
    assert modes(fresh) == {".": 0o700}
