"""Spool throughput and recovery: LogSpool (group-committed segment log) against FileSpool.

Prints puts/s of 5 KB messages with 20 and 200 concurrent producers (and fdatasyncs per
put for LogSpool), then recover() time, RSS growth and index bytes/message for a big queue.
Usage: .venv/bin/python bench/spool_bench.py [--dir /var/tmp/…] [--puts 20000]
       [--file-puts 4000] [--recover 200000] [--size 5000] [--no-uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from file_spool_baseline import FileSpool  # bench/ is on sys.path when run as a script

from queue_store.entries import Envelope, QueueEntry, RecipientState
from queue_store.log_spool import LogSpool


def make_entry(i: int) -> QueueEntry:
    queue_id = f"{0x18F00000000 + i:011x}{i * 2654435761 % 2**64:016x}"
    return QueueEntry(
        envelope=Envelope(
            message_id=f"<{queue_id}@example.com>",
            queue_id=queue_id,
            account_id="acct-0001",
            sender="orders@example.com",
            sender_domain="example.com",
            return_path_host="bounces.example.com",
            categories=["orders"],
            custom_args={"order": str(i)},
        ),
        recipients=[RecipientState(email=f"customer{i}@example.net", index=0)],
    )


def make_content(i: int, size: int) -> bytes:
    head = f"Subject: Your order #{i}\r\n\r\n".encode()
    return head + b"x" * max(0, size - len(head))


async def fill(
    put: Callable[[QueueEntry, bytes], Coroutine[Any, Any, None]],
    count: int,
    producers: int,
    size: int,
) -> float:
    """Put `count` messages from `producers` concurrent tasks; returns the seconds taken."""
    numbers = iter(range(count))
    body = make_content(0, size)

    async def producer() -> None:
        for i in numbers:
            await put(make_entry(i), body)

    started = time.perf_counter()
    await asyncio.gather(*(producer() for _ in range(producers)))
    return time.perf_counter() - started


async def put_rate(kind: str, directory: Path, count: int, producers: int, size: int) -> str:
    fsyncs = itertools.count()

    def counting(fd: int) -> None:
        next(fsyncs)
        os.fdatasync(fd)

    if kind == "FileSpool":
        seconds = await fill(FileSpool(directory).put, count, producers, size)
        per_put = "2 (file+dir)"
    else:
        spool = LogSpool(directory, fsync=counting)
        spool.recover()
        await spool.start()
        base = next(fsyncs)
        seconds = await fill(spool.put, count, producers, size)
        per_put = f"{(next(fsyncs) - base - 1) / count:.3f}"
        await spool.stop()
    shutil.rmtree(directory)
    return f"| {kind} | {producers} | {count} | {count / seconds:,.0f} | {per_put} |"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def recover_child(directory: Path, trace: bool) -> None:
    """Run in a fresh process: time recover() and measure what the index costs."""
    if trace:
        tracemalloc.start()
    rss_before = rss_kib()
    started = time.perf_counter()
    spool = LogSpool(directory)
    entries = spool.recover()
    replayed = time.perf_counter()
    rss_index = rss_kib()
    yielded = sum(1 for _ in entries)
    done = time.perf_counter()
    result = {
        "messages": len(spool),
        "yielded": yielded,
        "replay_s": replayed - started,
        "iterate_s": done - replayed,
        "rss_growth_kib": rss_index - rss_before,
        "rss_after_iterate_kib": rss_kib() - rss_before,
        "pending_index_entries": len(spool.pending_index()),
    }
    if trace:
        result["traced_bytes"] = tracemalloc.get_traced_memory()[0]
    print(json.dumps(result))


def run_recover_child(directory: Path, trace: bool) -> dict[str, float]:
    args = [sys.executable, __file__, "--recover-child", str(directory)]
    out = subprocess.run(args + (["--trace"] if trace else []), capture_output=True, check=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


async def fill_for_recovery(directory: Path, count: int, size: int) -> float:
    spool = LogSpool(directory)
    spool.recover()
    await spool.start()
    seconds = await fill(spool.put, count, 200, size)
    await spool.stop()
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--puts", type=int, default=20_000)
    parser.add_argument("--file-puts", type=int, default=4_000)
    parser.add_argument("--recover", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=5_000)
    parser.add_argument("--no-uvloop", action="store_true")
    parser.add_argument("--recover-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.recover_child:
        recover_child(args.recover_child, args.trace)
        return
    run = asyncio.run
    if not args.no_uvloop:
        import uvloop

        run = uvloop.run
    root = Path(tempfile.mkdtemp(prefix="spool-bench-", dir=args.dir or "/var/tmp"))
    try:
        print(f"dir={root} size={args.size} B loop={'asyncio' if args.no_uvloop else 'uvloop'}")
        print("\n| spool | producers | messages | puts/s | fdatasyncs/put |\n|---|---|---|---|---|")
        for producers in (20, 200):
            for kind, count in (("LogSpool", args.puts), ("FileSpool", args.file_puts)):
                print(run(put_rate(kind, root / "rate", count, producers, args.size)), flush=True)
        rate = run(fill_for_recovery(root / "big", args.recover, args.size))
        plain = run_recover_child(root / "big", trace=False)
        traced = run_recover_child(root / "big", trace=True)
        print(f"\nfilled {args.recover:,} messages at {rate:,.0f} puts/s (200 producers)")
        print("\n| recover() of | replay s | iterate s | RSS growth MiB | index B/msg |")
        print("|---|---|---|---|---|")
        per_message = traced["traced_bytes"] / plain["messages"]
        print(
            f"| {plain['messages']:,.0f} msgs | {plain['replay_s']:.2f} | "
            f"{plain['iterate_s']:.2f} | {plain['rss_growth_kib'] / 1024:.1f} | "
            f"{per_message:.0f} (RSS {plain['rss_growth_kib'] * 1024 / plain['messages']:.0f}) |"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
