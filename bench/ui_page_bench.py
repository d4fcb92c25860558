"""The dashboard's pages at a million messages: prepare a SQLite database (bulk inserts in
chunks straight into the tables, indexes built after; cached under var/bench/ by schema
head and data version, so reruns skip it), start `scaisend serve` on it (adding only its
two users and their sessions), sign in, and time every page N times after a warm-up: the
server's time (`Server-Timing`) and the client's on loopback, median and p95, against the
100 ms ceiling.

    .venv/bin/python bench/ui_page_bench.py [--messages 1000000] [--runs 20] [--warmup 3]
        [--cache var/bench] [--profile FILE.svg]

Unbuilt pages answer "Not built yet" (marked so); a path answering 404 is skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec

from control.ui.navigation import PAGES
from mta.db.engine import create_schema, head_revision, make_engine
from mta.db.models import DailyStats
from mta.events.stats import utc_day

ROOT = Path(__file__).resolve().parents[1]
DATA_VERSION = 2  # bump when the prepared data changes shape
CEILING_MS = 100.0
DAY = 86400.0
SPAN = 30 * DAY
CHUNK = 50_000
ADDRESSES = 200_000  # distinct recipients: about five messages each
CATEGORIES = 20
FILLED = ("messages", "message_recipients", "message_categories", "events", "stats_daily")
# What became of each message (per 100): its status and the events it has after processed.
OUTCOMES = ["delivered"] * 90 + ["bounced"] * 5 + ["dropped"] * 2 + ["deferred"] * 2 + ["processed"]
OPENED = 0.2  # of the delivered
OPEN_FIELDS = {"machine_open": False}
ENCODE = msgspec.json.Encoder().encode
# The event after processed (none while still processed), its fields, the daily metrics.
OUTCOME_EVENTS: dict[str, tuple[str, dict[str, Any], tuple[str, ...]]] = {
    "delivered": (
        "delivered",
        {"response": "250 2.0.0 OK", "mx": "mx.example.com", "tls": True},
        ("requests", "processed", "delivered"),
    ),
    "bounced": (
        "bounce",
        {"reason": "550 5.1.1 no such user", "status": "5.1.1"},
        ("requests", "processed", "bounces"),
    ),
    "dropped": ("dropped", {"reason": "Bounced Address"}, ("requests", "bounce_drops")),
    "deferred": (
        "deferred",
        {"response": "451 4.7.1 try later", "status": "4.7.1", "attempt": 1},
        ("requests", "processed", "deferred"),
    ),
    "processed": ("", {}, ("requests", "processed")),
}
PASSWORD = "bench password, long enough"
MEMBER, OPERATOR = "ada@acme.example", "op@scaisend.example"
PAGE_BUDGET_SECONDS = 120.0  # per page: stop its runs after this, whatever --runs says


# -- the data ------------------------------------------------------------------------------


class Fill:
    """The rows of `count` messages ending at `end`, made in chunks, and the daily stats
    they add up to. Plain random() and string formatting: the Python side is the most of
    the preparation's time."""

    def __init__(self, count: int, end: float, accounts: dict[str, str], seed: int = 7) -> None:
        self.count, self.end, self.accounts = count, end, accounts
        self.random = random.Random(seed).random
        self.serial = 0
        self.tally: dict[tuple[str, str, int, str, bool], int] = {}

    def new_id(self, at: float) -> str:
        """Time-sortable as mta.core.model.new_id, with a serial for its random part."""
        self.serial += 1
        return f"{int(at * 1000):011x}{self.serial:016x}"

    def event(self, account: str, mid: str, email: str, kind: str, at: float,
              fields: dict[str, Any]) -> tuple[Any, ...]:  # fmt: skip
        eid = self.new_id(at)
        data = {"event": kind, **fields, "message_id": mid, "email": email, "event_id": eid,
                "timestamp": int(at), "categories": []}  # fmt: skip
        return (eid, account, mid, email, kind, int(at), ENCODE(data).decode())

    def chunks(self) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
        rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in FILLED[:4]}
        for i in range(self.count):
            self.add_message(i, rows)
            if len(rows["messages"]) == CHUNK:
                yield rows
                rows = {t: [] for t in rows}
        yield rows

    def add_message(self, i: int, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        """The i-th message's rows: the message, its recipient, its category, its events."""
        rnd = self.random
        at = self.end - SPAN + SPAN * i / self.count
        account = self.accounts["globex" if i % 20 == 0 else "acme"]  # 95 % in one account
        mid = self.new_id(at)
        email = f"user{int(rnd() * ADDRESSES)}@example.com"
        category = f"cat{int(rnd() * CATEGORIES)}" if rnd() < 0.3 else ""
        outcome = OUTCOMES[int(rnd() * len(OUTCOMES))]
        last = at + rnd() * 60
        kind, fields, _ = OUTCOME_EVENTS[outcome]
        events = [self.event(account, mid, email, "processed", at, {})]
        if kind:
            events.append(self.event(account, mid, email, kind, last, fields))
        opened = outcome == "delivered" and rnd() < OPENED
        if opened:
            last += rnd() * 3600
            events.append(self.event(account, mid, email, "open", last, OPEN_FIELDS))
        key = (account, category, int(at // DAY), outcome, opened)
        self.tally[key] = self.tally.get(key, 0) + 1
        rows["messages"].append((
            mid, account, f"key{i % 5}", f"news{int(rnd() * 20)}@mail.example.com",
            f"Subject {int(rnd() * 1000)}", None, f'["{category}"]' if category else "[]", "{}",
            outcome, False, at, last, last, int(opened), 0,
        ))  # fmt: skip
        rows["message_recipients"].append((mid, 0, email, outcome))
        if category:
            rows["message_categories"].append((mid, category, account, at))
        rows["events"] += events

    def stats_rows(self) -> list[dict[str, Any]]:
        """stats_daily's rows: the account's totals (category "") and each category's."""
        found: dict[tuple[str, str, str], Counter[str]] = {}
        for (account, category, day, outcome, opened), count in self.tally.items():
            metrics = OUTCOME_EVENTS[outcome][2] + (("opens", "unique_opens") if opened else ())
            for kept in {"", category}:
                counts = found.setdefault((account, kept, utc_day(day * DAY)), Counter())
                for metric in metrics:
                    counts[metric] += count
        return [{"account_id": a, "category": c, "day": d, **counts}
                for (a, c, d), counts in found.items()]  # fmt: skip


MESSAGE_COLUMNS = (
    "id, account_id, api_key_id, from_email, subject, template_id, categories, custom_args,"
    " status, sandbox, created_at, updated_at, last_event_time, opens_count, clicks_count"
)
INSERTS = {
    "messages": f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({','.join('?' * 15)})",
    "message_recipients": 'INSERT INTO message_recipients (message_id, "index", email, status)'
    " VALUES (?,?,?,?)",
    "message_categories": "INSERT INTO message_categories (message_id, category, account_id,"
    " created_at) VALUES (?,?,?,?)",
    "events": "INSERT INTO events (event_id, account_id, message_id, email, event_type,"
    " timestamp, data) VALUES (?,?,?,?,?,?,?)",
}


async def schema(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    await engine.dispose()


def prepare(path: Path, count: int) -> dict[str, float]:
    """The database at `path` (made beside it, then renamed: a stopped run leaves none);
    the seconds each part took."""
    making = path.with_suffix(".making")
    making.unlink(missing_ok=True)
    asyncio.run(schema(making))
    db = sqlite3.connect(making)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MiB for building the indexes
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL AND "
        f"tbl_name IN ({','.join('?' * len(FILLED))})",
        FILLED,
    ).fetchall()
    for name, _ in indexes:  # built once at the end: much faster than row by row
        db.execute(f'DROP INDEX "{name}"')
    took = insert_rows(db, count)
    started = time.perf_counter()
    for _, sql in sorted(indexes):
        db.execute(sql)
    db.execute("PRAGMA analysis_limit=1000")  # sampled, as the server's own at start
    db.execute("ANALYZE")
    db.close()
    making.rename(path)
    return {**took, "indexes": time.perf_counter() - started}


def insert_rows(db: sqlite3.Connection, count: int) -> dict[str, float]:
    """The accounts, the messages with what hangs off them, and the daily stats; the
    seconds spent making rows in Python and inserting them."""
    accounts = {"acme": "0" * 16 + "acme", "globex": "0" * 16 + "globex"}
    now = time.time()
    db.executemany(
        "INSERT INTO accounts (id, name, created_at, disabled, email) VALUES (?,?,?,0,?)",
        [(aid, name, now - SPAN, f"ops@{name}.example") for name, aid in accounts.items()],
    )
    fill = Fill(count, now - 60, accounts)
    making = inserting = 0.0
    chunks = fill.chunks()
    while True:
        started = time.perf_counter()
        rows = next(chunks, None)
        making += time.perf_counter() - started
        if rows is None:
            break
        started = time.perf_counter()
        with db:
            for table, sql in INSERTS.items():
                db.executemany(sql, sorted(rows[table]))  # in key order: appends to the trees
        inserting += time.perf_counter() - started
    names = [column.name for column in DailyStats.__table__.columns]
    with db:
        db.executemany(
            f"INSERT INTO stats_daily ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(row.get(n, 0) for n in names) for row in fill.stats_rows()],
        )
    return {"rows made": making, "rows inserted": inserting}


def prepared(cache: Path, count: int) -> Path:
    """The cached database for this schema head, data version and size; made if missing."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"ui-{head_revision()}-v{DATA_VERSION}-{count}.sqlite"
    if path.exists():
        print(f"prepared database: {path} (cached)")
    else:
        took = prepare(path, count)
        size = path.stat().st_size / 2**20
        parts = ", ".join(f"{part} {seconds:.1f} s" for part, seconds in took.items())
        print(f"prepared {count:,} messages in {sum(took.values()):.1f} s ({parts}): ")
        print(f"  {path} ({size:.0f} MiB)")
    return path


# -- the server ----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(config: Path, *args: str, stdin: str = "", may_exist: bool = False) -> None:
    main = [sys.executable, "-m", "mta.server.cli.main"]
    done = subprocess.run([*main, *args, "--config", str(config)], input=stdin, text=True,
                          capture_output=True, timeout=120)  # fmt: skip
    if done.returncode != 0 and not (may_exist and "exists" in done.stderr):
        raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")


def start_server(state: Path, database: Path, port: int) -> subprocess.Popen[bytes]:
    config = state / "scaisend.toml"
    config.write_text(
        f'[http]\nlisten = "127.0.0.1:{port}"\n[smtp]\nsubmission_listen = ""\n'
        f'smtps_listen = ""\nmx_listen = ""\n[storage]\ndata_dir = "{state / "var"}"\n'
        f'database_url = "sqlite+aiosqlite:///{database}"\n'
        "message_retention_days = 3650\nevent_retention_days = 3650\n"
        '[log]\nlevel = "warning"\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(state / "server.log").open("wb"),
    )


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 180.0) -> float:
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        if server.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


def add_users(state: Path) -> None:
    """The member (acme's admin) and the operator who sign in, as `scaisend user add` makes
    them (it needs the running server's data); kept in the cached database for the next run."""
    config = state / "scaisend.toml"
    for whose in (["--account", "acme", "--email", MEMBER, "--role", "admin"],
                  ["--operator", "--email", OPERATOR]):  # fmt: skip
        command(config, "user", "add", *whose, stdin=PASSWORD + "\n", may_exist=True)


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    fields = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    if client.post("/ui/sign-in", data=fields).status_code != 303:
        raise SystemExit(f"could not sign in as {email}")
    return client


# -- the measurement -----------------------------------------------------------------------


def paths(database: Path) -> list[tuple[str, str]]:
    """(who, path): every page of the menu, and the Activity searches and message pages."""
    db = sqlite3.connect(database)
    newest, bounced = (
        db.execute(
            "SELECT id FROM messages WHERE account_id = ? AND status LIKE ? "
            "ORDER BY created_at DESC LIMIT 1",
            ("0" * 16 + "acme", status),
        ).fetchone()[0]
        for status in ("%", "bounced")
    )
    email = db.execute(
        "SELECT email FROM message_recipients WHERE message_id = ?", (bounced,)
    ).fetchone()[0]
    db.close()
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 10 * DAY))
    found = [("operator" if p.operator else "member", f"/ui/{p.slug}") for p in PAGES]
    return [
        *found,
        ("member", "/ui/activity?page=40"),
        ("member", f"/ui/activity?to_email={email}"),
        ("member", "/ui/activity?status=bounced"),
        ("member", f"/ui/activity?after={day}&before={day}"),
        ("member", f"/ui/activity?status=bounced&after={day}&before={day}"),
        ("member", f"/ui/activity/{newest}"),
        ("member", f"/ui/activity/{bounced}"),
        ("operator", "/ui/accounts/acme"),
    ]


SERVER_TIMING = re.compile(r"app;dur=([\d.]+)")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str, runs: int, warmup: int) -> dict[str, Any] | None:
    first = client.get(path)
    if first.status_code == 404:
        return None
    note = "not built" if "Not built yet" in first.text else ""
    server, wall = [], []
    deadline = time.monotonic() + PAGE_BUDGET_SECONDS
    for n in range(warmup + runs):
        if time.monotonic() > deadline:
            note = (note + " budget").strip()
            break
        started = time.perf_counter()
        answer = client.get(path)
        took = (time.perf_counter() - started) * 1000
        timing = SERVER_TIMING.search(answer.headers.get("server-timing", ""))
        if n >= warmup and timing is not None:
            server.append(float(timing.group(1)))
            wall.append(took)
    status = first.status_code
    return {"status": status, "note": note, "server": server, "wall": wall}


def table(results: list[tuple[str, dict[str, Any]]]) -> None:
    ceiling = f"server p95 / {CEILING_MS:.0f} ms"
    print(f"| page | status | server p50 ms | server p95 ms | client p50 ms | {ceiling} |")
    print("|---|---|---|---|---|---|")
    for path, found in results:
        server, wall = found["server"], found["wall"]
        if not server:
            print(f"| `{path}` | {found['status']} | - | - | - | {found['note']} |")
            continue
        ratio = p95(server) / CEILING_MS
        note = f" ({found['note']})" if found["note"] else ""
        print(
            f"| `{path}`{note} | {found['status']} | {statistics.median(server):.1f} | "
            f"{p95(server):.1f} | {statistics.median(wall):.1f} | {ratio:.2f} |"
        )


def profiled(pid: int, output: Path | None) -> subprocess.Popen[bytes] | None:
    """`py-spy record` on the server while the pages are timed (py-spy from PATH or beside
    this Python: `pip install py-spy`)."""
    if output is None:
        return None
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    record = [spy, "record", "--pid", str(pid), "--output", str(output), "--rate", "200"]
    return subprocess.Popen(record)


def run(args: argparse.Namespace) -> None:
    database = prepared(args.cache, args.messages)
    with tempfile.TemporaryDirectory(dir=args.cache) as folder:
        state = Path(folder)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(state, database, port)
        try:
            print(f"server ready in {wait_ready(base, server):.1f} s (pid {server.pid})")
            add_users(state)
            clients = {"member": signed_in(base, MEMBER), "operator": signed_in(base, OPERATOR)}
            spy = profiled(server.pid, args.profile)
            results = []
            for who, path in paths(database):
                found = measure(clients[who], path, args.runs, args.warmup)
                if found is None:
                    print(f"skipped {path}: 404", file=sys.stderr)
                    continue
                results.append((path, found))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"{args.messages:,} messages; {args.runs} runs a page after {args.warmup} warm-up")
    table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy flame graph (SVG)")
    args = parser.parse_args()
    print("command:", " ".join(["bench/ui_page_bench.py", *sys.argv[1:]]))
    run(args)


if __name__ == "__main__":
    main()
