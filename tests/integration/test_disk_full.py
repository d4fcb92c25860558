"""A full disk: ingress answers 451 (SMTP) and 503 (HTTP, with Retry-After) instead of
acknowledging, loses nothing already accepted, and recovers by itself when space returns.
The spool lives on a small tmpfs the test mounts (the suite runs as root, as CI does)."""

from __future__ import annotations

import contextlib
import os
import smtplib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import account_with_key, send, wait_for_status
from tests.support.databases import Database
from tests.support.dns_server import DnsServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(path: Path) -> Path:
    """Take every free byte of the filesystem holding `path`."""
    filler = path / "filler"
    with filler.open("wb", buffering=0) as handle:
        for chunk in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    handle.write(b"\0" * chunk)
        os.fsync(handle.fileno())
    return filler


def test_a_full_disk_refuses_instead_of_acknowledging_and_recovers(
    tmp_path: Path,
    small_disk: Path,
    make_server: ServerFactory,
    dns_server: DnsServer,
    sink: SmtpSink,
    database: Database,
) -> None:
    server = make_server(
        {
            "storage": {
                "data_dir": str(small_disk / "var"),
                # The metadata stays off the small disk: only the spool fills it.
                "database_url": database.url or f"sqlite+aiosqlite:///{tmp_path / 'meta.db'}",
            },
            "smtp": {"relay_networks": ["127.0.0.1/32"], "relay_account": "disk"},
        }
    )
    try:
        _, key = account_with_key(server, dns_server)
        first = send(server, key, "ada@example.com")
        filler = fill(small_disk)

        refused = httpx.post(
            f"{server.base_url}/v3/mail/send",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
            json={
                "personalizations": [{"to": [{"email": "bob@example.com"}]}],
                "from": {"email": "hello@mail.example.com"},
                "subject": "full",
                "content": [{"type": "text/plain", "value": "x" * 20000}],
            },
        )
        assert refused.status_code == 503, refused.text
        assert refused.headers["Retry-After"]
        with (
            smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as client,
            pytest.raises(smtplib.SMTPDataError) as deferred,
        ):
            client.sendmail(
                "app@mail.example.com",
                ["carol@example.com"],
                b"From: app@mail.example.com\r\nSubject: full\r\n\r\n"
                + (b"x" * 70 + b"\r\n") * 300,
            )
        assert deferred.value.smtp_code == 451
        assert deferred.value.smtp_error.startswith(b"4.3.0")

        filler.unlink()
        again = send(server, key, "dave@example.com")
        wait_for_status(server, key, again, "delivered")
        wait_for_status(server, key, first, "delivered")
    finally:
        server.stop()
    delivered = sorted(m.rcpt_tos[0] for m in sink.snapshot())
    assert delivered == ["ada@example.com", "dave@example.com"]
