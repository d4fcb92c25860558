"""`scaisend serve` with a listen address another process holds: one line naming the config
key and the address, exit status 2, before any listener (or worker) starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.servers import ServerFactory


@pytest.fixture
def busy_address() -> Iterator[str]:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        yield f"127.0.0.1:{busy.getsockname()[1]}"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("section", "key"), [("smtp", "mx_listen"), ("http", "listen")])
def test_a_busy_address_ends_serve_with_one_line(
    make_server: ServerFactory, busy_address: str, workers: int, section: str, key: str
) -> None:
    server = make_server(
        {section: {key: busy_address}, "server": {"workers": workers}}, start=False
    )
    result = subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(server.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"scaisend: cannot listen on {busy_address} ([{section}] {key}): address already in use\n"
    )
    assert result.stdout == ""  # no "listening", no banner, no worker started
    assert not (server.workdir / "var").exists()  # nothing made either
