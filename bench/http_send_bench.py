"""HTTP send benchmark: POST /v3/mail/send, one recipient and 5 KB of text per request,
from C concurrent keep-alive connections of `wrk` (apt-get install wrk; a C load generator,
so the client does not compete with the server for the CPU the way a Python client does)
against a `scaisend serve` it starts, for T seconds. Prints requests/s, p50/p99 latency and
the server's CPU time per request.

    .venv/bin/python bench/http_send_bench.py [--clients 20] [--seconds 20] [--workers 1]

The key is a test key, so the whole intake runs (validation, MIME, DKIM signing, durable
spool, message log, events) but nothing is delivered: this measures acceptance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks → seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children (the workers when `[server] workers` > 1)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return cpu_seconds(pid) + sum(tree_cpu_seconds(int(child)) for child in children)


def wait_ready(base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


def start_server(state: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    config = state / "scaisend.toml"
    config.write_text(
        f'[http]\nlisten = "127.0.0.1:{port}"\n[smtp]\nsubmission_listen = ""\n'
        f'smtps_listen = ""\nmx_listen = ""\n[storage]\ndata_dir = "{state / "var"}"\n'
        f'[server]\nworkers = {workers}\n[log]\nlevel = "warning"\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def token(state: Path) -> str:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mta.server.cli.main",
            "token",
            "--account",
            "bench",
            "--config",
            str(state / "scaisend.toml"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()[-1]


async def prepare(base: str, jwt: str) -> str:
    async with httpx.AsyncClient(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {jwt}"}
    ) as client:
        for _ in range(100):
            try:
                await client.get("/v3/api_keys")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        await client.post("/api/admin/domains", json={"domain": "bench.example.com"})
        key = await client.post(
            "/v3/api_keys", json={"name": "bench", "environment": "test", "scopes": ["mail.send"]}
        )
        return str(key.json()["api_key"])


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = '%s'
"""


def run_wrk(base: str, key: str, clients: int, seconds: float, state: Path) -> dict[str, str]:
    body = json.dumps(
        {
            "personalizations": [{"to": [{"email": "user@example.net"}]}],
            "from": {"email": "hello@bench.example.com"},
            "subject": "bench",
            "content": [{"type": "text/plain", "value": "x" * 5000}],
        }
    )
    script = state / "send.lua"
    script.write_text(WRK_SCRIPT % (key, body))
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{clients}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            f"{base}/v3/mail/send",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = dict(re.findall(r"^\s*(50%|99%)\s+(\S+)", done.stdout, re.M))
    found["rate"] = re.search(r"Requests/sec:\s+(\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    found["requests"] = re.search(r"(\d+) requests in", done.stdout).group(1)  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    found["errors"] = bad.group(1) if bad else "0"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="[server] workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    state = Path(tempfile.mkdtemp(prefix="scaisend-http-bench-", dir="/var/tmp"))
    port = free_port()
    server = start_server(state, port, args.workers)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        key = asyncio.run(prepare(base, token(state)))
        cpu_before = tree_cpu_seconds(server.pid)
        result = run_wrk(base, key, args.clients, args.seconds, state)
        cpu = tree_cpu_seconds(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print("server did not stop within 30 s of SIGTERM; killed", file=sys.stderr)
            server.kill()
        shutil.rmtree(state, ignore_errors=True)
    requests = int(result["requests"])
    print(
        f"requests {requests} ({result['errors']} not 202)  connections {args.clients}"
        f"  workers {args.workers}"
    )
    print(f"rate {result['rate']} requests/s")
    print(f"latency p50 {result['50%']}  p99 {result['99%']}")
    print(f"server CPU {1000 * cpu / max(requests, 1):.2f} ms per request")


if __name__ == "__main__":
    main()
