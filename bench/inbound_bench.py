"""Inbound benchmark: a storm of DSNs back to our VERP return paths, against the relay rate.

Starts a `scaisend serve` (temp config, SQLite, loopback only) whose recipients' MX is an
SMTP sink in this process, sends N messages through the API (one recipient each) and waits
until the sink has them all, then sends N DSNs (RFC 3464, one per message, to the return
path the sink saw) over C SMTP connections to the MX. Prints DSNs/s accepted (first DATA
to last 250), DSNs/s processed (until every bounce event and suppression is in the
database, polled read-only), the seconds from the last 250 to the last event, and the
relay rate of the same run (first POST to the sink's last message) with the ratios.

    .venv/bin/python bench/inbound_bench.py [--messages 2000] [--connections 8] [--workers 1]
        [--profile SECONDS]   # py-spy record the server for that long during the DSNs

Every wait is bounded in time; the run fails if one ends short.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.api import new_key, set_up_account  # noqa: E402
from tests.support.dns_server import DnsServer  # noqa: E402
from tests.support.server import ScaisendServer, free_port  # noqa: E402
from tests.support.sink import SmtpSink  # noqa: E402

SINK_HOST = "127.0.0.1"
SENDER = "hello@mail.example.com"
WAIT_SECONDS = 300.0
PER_SESSION = 500  # DSNs per SMTP session (the MX allows 1,000)


def dsn(return_path: str, recipient: str, number: int) -> bytes:
    """An RFC 3464 report: `recipient` failed with 5.1.1."""
    boundary = f"dsn-{number}"
    return (
        f"From: MAILER-DAEMON@mx.example.com\r\nTo: <{return_path}>\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn{number}@mx.example.com>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;"
        f' boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\n"
        f"I could not deliver your message to <{recipient}>.\r\n\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected:"
        f" User unknown in local recipient table\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{return_path}>\r\nFrom: {SENDER}\r\nTo: {recipient}\r\n"
        f"Subject: bench\r\n\r\n--{boundary}--\r\n"
    ).encode()


async def post_all(base: str, key: str, count: int, clients: int) -> None:
    """`count` sends of one recipient each, from `clients` concurrent connections."""
    headers = {"Authorization": f"Bearer {key}"}
    numbers = iter(range(count))
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

        async def worker() -> None:
            for n in numbers:
                body = {
                    "personalizations": [{"to": [{"email": f"user{n}@example.com"}]}],
                    "from": {"email": SENDER},
                    "subject": "bench",
                    "content": [{"type": "text/plain", "value": "x" * 2000}],
                }
                response = await client.post("/v3/mail/send", json=body)
                if response.status_code != 202:
                    raise SystemExit(f"send {n}: {response.status_code} {response.text}")

        await asyncio.gather(*(worker() for _ in range(clients)))


async def reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await asyncio.wait_for(reader.readline(), 60)
        if not line or line[3:4] != b"-":
            return line


async def smtp_session(port: int, items: list[tuple[str, bytes]], last: list[float]) -> None:
    """One connection sending `items` (return path, DSN) with PIPELINING; any non-2xx fails."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reply(reader)
    writer.write(b"EHLO bench.example.net\r\n")
    await reply(reader)
    for rcpt, data in items:
        writer.write(f"MAIL FROM:<>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n".encode())
        answers = [await reply(reader) for _ in range(3)]
        if not (answers[0][:1] == answers[1][:1] == b"2" and answers[2][:3] == b"354"):
            raise SystemExit(f"refused {rcpt}: {answers}")
        writer.write(data + b".\r\n")
        done = await reply(reader)
        if done[:3] != b"250":
            raise SystemExit(f"DATA refused for {rcpt}: {done!r}")
        last[0] = time.monotonic()
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()


async def send_share(port: int, items: list[tuple[str, bytes]], last: list[float]) -> None:
    """One connection at a time, each within `[smtp] max_messages_per_connection`."""
    for start in range(0, len(items), PER_SESSION):
        await smtp_session(port, items[start : start + PER_SESSION], last)


async def send_dsns(port: int, items: list[tuple[str, bytes]], connections: int) -> float:
    """Send every DSN over `connections` at once; the monotonic time of the last 250."""
    last = [0.0]
    shares = [items[k::connections] for k in range(connections)]
    await asyncio.gather(*(send_share(port, share, last) for share in shares))
    return last[0]


def counts(database: Path) -> tuple[int, int]:
    """(bounce events, bounce suppressions) in the server's SQLite, read-only."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as db:
        events = db.execute("SELECT count(*) FROM events WHERE event_type = 'bounce'")
        listed = db.execute("SELECT count(*) FROM suppressions WHERE list = 'bounces'")
        return int(events.fetchone()[0]), int(listed.fetchone()[0])


def wait_recorded(database: Path, count: int, timeout: float) -> float:
    """Poll until `count` bounce events and suppressions exist; the monotonic time then."""
    deadline = time.monotonic() + timeout
    seen = (0, 0)
    while time.monotonic() < deadline:
        seen = counts(database)
        if min(seen) >= count:
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"only {seen} (events, suppressions) of {count} within {timeout:.0f} s")


def profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [spy, "record", "-o", str(out), "-d", str(seconds), "--pid", str(pid), "-s"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run(args: argparse.Namespace, state: Path) -> None:
    dns = DnsServer("127.0.0.1", 0)
    dns.start()
    sink = SmtpSink(SINK_HOST, free_port(), state, starttls=False).start()
    host, port = dns.address
    extra = {
        "delivery": {"routes": {"*": f"{SINK_HOST}:{sink.controller.port}"}},
        "server": {"workers": args.workers},
        "log": {"level": "warning"},
    }
    server = ScaisendServer(state, nameserver=f"{host}:{port}", smtp_port=25, extra=extra)
    try:
        server.start()
        token = server.token()
        set_up_account(server, dns, token)
        key = new_key(server, token, ["mail.send"])
        n = args.messages
        started = time.monotonic()
        asyncio.run(post_all(server.base_url, key, n, 16))
        received = sink.wait_for(n, timeout=WAIT_SECONDS)
        relay_rate = n / (time.monotonic() - started)
        items = [(m.mail_from, dsn(m.mail_from, m.rcpt_tos[0], i)) for i, m in enumerate(received)]
        spy = profile(server.process.pid, args.profile, args.svg) if args.profile else None  # type: ignore[union-attr]
        first = time.monotonic()
        last = asyncio.run(send_dsns(server.mx_port, items, args.connections))
        done = wait_recorded(state / "var" / "scaisend.db", n, WAIT_SECONDS)
        if spy is not None:
            spy.wait(timeout=args.profile + 60)
    finally:
        server.stop()
        sink.stop()
        dns.stop()
    rate_in, rate_out = n / (last - first), n / (done - first)
    print(f"messages {n}  connections {args.connections}  workers {args.workers}")
    print(f"relay (API -> sink) {relay_rate:.0f} msgs/s")
    print(f"DSNs in  {rate_in:.0f}/s  ({rate_in / relay_rate:.2f} x relay)")
    print(f"DSNs out {rate_out:.0f}/s  ({rate_out / relay_rate:.2f} x relay)")
    print(f"last 250 -> last event {done - last:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="[server] workers")
    parser.add_argument("--profile", type=int, default=0, help="py-spy seconds (0: none)")
    parser.add_argument("--svg", type=Path, default=Path("/tmp/inbound-bench.svg"))
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="scaisend-inbound-bench-", dir="/var/tmp"))
    try:
        run(args, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
