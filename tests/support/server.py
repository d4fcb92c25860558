"""Run a real `scaisend serve` process on loopback for end-to-end tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx

from config import load_settings
from mta.server.cli.server_data import issue_token

# A test server stops in well under a second; this caps the wait for what a test left open
# (an SMTP session, a slow delivery). The lifecycle tests that test the grace set their own.
STOP_GRACE_SECONDS = 5.0
DAY_SECONDS = 86_400  # a token's life, as `scaisend token` gives by default
T = TypeVar("T")


def _port_range() -> range:
    """20000-32000, below the kernel's ephemeral range (32768 and up on Linux), so that the
    outgoing connections of other tests cannot take a port before our server binds it; a
    slice of it per pytest-xdist worker, so that workers never pick the same one."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = 12_000 // max(workers, 1)
    return range(20_000 + worker * size, 20_000 + (worker + 1) * size)


_handed_out: deque[tuple[str, int]] = deque(maxlen=256)


def run_here(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in a thread of its own (a test may be inside a loop)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as one:
        return one.submit(asyncio.run, work).result(timeout=60)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now and not handed out lately (a server binds its ports only once it has
    started), from this worker's slice of the range."""
    rng, ports = random.Random(), _port_range()
    for _ in range(200):
        port = rng.choice(ports)
        if (host, port) in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.append((host, port))
        return port
    with socket.socket() as sock:  # a crowded range: let the kernel pick
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(v)}' for k, v in value.items()) + "}"
    return str(value)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in keys.items())
    path.write_text("\n".join(lines) + "\n")
    return path


class ScaisendServer:
    """`scaisend serve --config FILE` as a child process, with its ports picked free."""

    def __init__(
        self,
        workdir: Path,
        *,
        nameserver: str,
        smtp_port: int,
        extra: dict[str, dict[str, Any]] | None = None,
        database_url: str = "",
    ) -> None:
        """`database_url` from the `database` fixture (tests/conftest.py); "" is SQLite.
        tests/support/servers.py makes these for the tests (ServerFactory)."""
        self.workdir = workdir
        self.http_port, self.submission_port = free_port(), free_port()
        self.smtps_port, self.mx_port = free_port(), free_port()
        sections: dict[str, dict[str, Any]] = {
            "http": {"listen": f"127.0.0.1:{self.http_port}"},
            "smtp": {
                "hostname": "mx.scaisend.test",
                "submission_listen": f"127.0.0.1:{self.submission_port}",
                "smtps_listen": f"127.0.0.1:{self.smtps_port}",
                "mx_listen": f"127.0.0.1:{self.mx_port}",
            },
            "storage": {"data_dir": str(workdir / "var")},
            "server": {"shutdown_grace_seconds": STOP_GRACE_SECONDS},
            "dns": {"nameservers": [nameserver], "timeout_seconds": 2.0},
            "delivery": {"smtp_port": smtp_port, "retry_schedule_seconds": [1, 2, 4]},
            "webhooks": {"allow_private_targets": True, "retry_schedule_seconds": [1, 2]},
            "log": {"level": "debug"},
        }
        if database_url:
            sections["storage"]["database_url"] = database_url
        for section, keys in (extra or {}).items():
            sections.setdefault(section, {}).update(keys)
        self.config = write_config(workdir / "scaisend.toml", sections)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "server.log"
        self._tokens: dict[str, str] = {}
        self._token_lock = threading.Lock()
        # One client for the helpers' many calls (an httpx.get builds a TLS context each
        # time, some 30 ms of CPU); no keep-alive: each request on a new connection, as before.
        self.http = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def command(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mta.server.cli.main", *args, "--config", str(self.config)],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )

    def token(self, account: str = "acme") -> str:
        """An admin JWT for `account`, made (with the account) on first asking and kept, by
        the function `scaisend token` runs, in this process: the command is a process of a
        second, the suite asks for hundreds, and test_cli.py runs the command itself."""
        with self._token_lock:  # alembic's schema check is not for two threads at once
            if account not in self._tokens:
                settings = load_settings(self.config)
                made = run_here(issue_token(settings, account, "admin", DAY_SECONDS))
                self._tokens[account] = made
            return self._tokens[account]

    def start(self) -> ScaisendServer:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                self.http.get(f"{self.base_url}/v3/messages", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, and SIGKILL if it has not ended within `timeout` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or power loss of the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("SCAISEND__")}
