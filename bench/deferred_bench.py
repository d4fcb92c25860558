"""One million deferred messages: fill a spool with N messages whose recipient was deferred
(due in an hour), start `scaisend serve` on it, and measure the time until the HTTP API
answers and the server's RSS once it has rebuilt its queue. The goal: ready within 60 s,
under 1 GiB.

    .venv/bin/python bench/deferred_bench.py [--messages 1000000] [--size 2000] [--dir /var/tmp/x]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from queue_store.entries import Envelope, QueueEntry, RecipientState, SmtpReply
from queue_store.log_spool import LogSpool

DEFERRED = SmtpReply(451, "4.2.0", "mailbox busy, try later")


def deferred_entry(i: int, due: float) -> QueueEntry:
    queue_id = f"{0x18F00000000 + i:011x}{i * 2654435761 % 2**64:016x}-0"
    envelope = Envelope(
        message_id=queue_id[:-2],
        queue_id=queue_id,
        account_id="acct",
        sender="orders@example.com",
        sender_domain="example.com",
        return_path_host="bounces.example.com",
    )
    state = RecipientState(
        email=f"customer{i}@example.net",
        index=0,
        attempts=1,
        next_attempt_at=due,
        last_reply=DEFERRED,
    )
    return QueueEntry(envelope=envelope, recipients=[state])


async def fill(spool_dir: Path, count: int, size: int) -> float:
    spool = LogSpool(spool_dir)
    list(spool.recover())
    await spool.start()
    body = b"Subject: deferred\r\n\r\n" + b"x" * size
    due = time.time() + 3600
    numbers = iter(range(count))
    started = time.perf_counter()

    async def producer() -> None:
        for i in numbers:
            await spool.put(deferred_entry(i, due), body)

    await asyncio.gather(*(producer() for _ in range(200)))
    await spool.stop()
    return time.perf_counter() - started


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serve_and_measure(state: Path) -> tuple[float, float]:
    config = state / "scaisend.toml"
    config.write_text(
        '[http]\nlisten = "127.0.0.1:18091"\n[smtp]\nsubmission_listen = ""\n'
        f'smtps_listen = ""\nmx_listen = ""\n[storage]\ndata_dir = "{state / "var"}"\n'
        '[log]\nlevel = "warning"\n'
    )
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
    )
    try:
        ready = None
        while time.perf_counter() - started < 300:
            try:
                httpx.get("http://127.0.0.1:18091/v3/messages", timeout=1)
                ready = time.perf_counter() - started
                break
            except httpx.TransportError:
                time.sleep(0.2)
        if ready is None:
            raise RuntimeError("server not ready within 300 s")
        time.sleep(3)
        return ready, rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/scaisend-deferred-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    (args.dir / "var").mkdir(parents=True)
    try:
        seconds = asyncio.run(fill(args.dir / "var" / "spool", args.messages, args.size))
        print(f"filled {args.messages} deferred messages of {args.size} B in {seconds:.1f} s")
        ready, rss = serve_and_measure(args.dir)
        print(f"ready to serve after {ready:.1f} s; RSS {rss:.0f} MiB with the queue rebuilt")
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
