"""The database bench/ui_page_bench.py times the dashboard on: a million messages over the
last 30 days with their recipients, categories, events and daily stats, made by bulk inserts
in chunks straight into the tables (indexes built after), cached by schema head and data
version."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from mta.db.engine import create_schema, head_revision, make_engine
from mta.db.models import DailyStats
from mta.events.stats import utc_day

ACME, GLOBEX = "0" * 16 + "acme", "0" * 16 + "globex"
DAY = 86400.0
SPAN = 30 * DAY
DATA_VERSION = 2  # bump when the prepared data changes shape
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
    accounts = {"acme": ACME, "globex": GLOBEX}
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
        print(f"prepared {count:,} messages in {sum(took.values()):.1f} s ({parts})")
        print(f"  {path} ({size:.0f} MiB)")
    return path
