"""The message log's filters at a million messages: fill a SQLite log (bulk insert in
chunks, through sqlite3), then run each filter N times through MessageService and print the
p50 and p99 per filter. The goal: every filter under 100 ms.

    .venv/bin/python bench/message_log_bench.py [--messages 1000000] [--runs 50] [--db FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.events.retention import refresh_statistics
from mta.services.identity import Principal
from mta.services.message_filter import NO_FILTER, MessageFilter
from mta.services.message_query import parse_query
from mta.services.messages import MessageService

T0 = 1767225600.0  # messages spread over the 30 days after 2026-01-01
SPAN = 30 * 86400.0
STATUSES = (
    ["delivered"] * 80 + ["bounced"] * 7 + ["dropped"] * 5 + ["processed"] * 5 + ["deferred"] * 3
)
CHUNK = 50_000
ADDRESSES = 200_000  # distinct recipients: about five messages each


def rows(count: int, seed: int = 7) -> Iterator[tuple[tuple[Any, ...], ...]]:
    """(message, recipient, category or None) rows in creation order."""
    rng = random.Random(seed)
    for i in range(count):
        created = T0 + SPAN * i / count
        account = "acme" if i % 20 else f"tenant{i % 7}"  # 95 % in one account: the worst case
        mid = f"{i:012d}"
        category = f"cat{rng.randrange(20)}" if rng.random() < 0.3 else None
        message = (
            mid,
            account,
            f"key{rng.randrange(10)}",
            f"sender{rng.randrange(50)}@mail.example.com",
            f"Subject {rng.randrange(1000)}",
            f"d-{rng.randrange(20):032x}" if rng.random() < 0.5 else None,
            json.dumps([category] if category else []),
            "{}",
            rng.choice(STATUSES),
            0,
            created,
            created,
            created + rng.random() * 3600,
            0,
            0,
        )
        recipient = (mid, 0, f"user{rng.randrange(ADDRESSES)}@example.com", message[8])
        yield message, recipient, ((mid, category, account, created) if category else ())


def fill(path: Path, count: int) -> float:
    started = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("INSERT INTO accounts VALUES ('acme','acme',0)")
    db.executemany("INSERT INTO accounts VALUES (?,?,0)", [(f"tenant{i}",) * 2 for i in range(7)])
    messages, recipients, categories = [], [], []
    for message, recipient, category in rows(count):
        messages.append(message)
        recipients.append(recipient)
        if category:
            categories.append(category)
        if len(messages) == CHUNK:
            _insert(db, messages, recipients, categories)
            messages, recipients, categories = [], [], []
    _insert(db, messages, recipients, categories)
    db.close()
    return time.perf_counter() - started


def _insert(
    db: sqlite3.Connection, messages: list[Any], recipients: list[Any], cats: list[Any]
) -> None:
    with db:
        db.executemany(
            "INSERT INTO messages (id, account_id, api_key_id, from_email, subject, template_id,"
            " categories, custom_args, status, sandbox, created_at, updated_at, last_event_time,"
            " opens_count, clicks_count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            messages,
        )
        db.executemany("INSERT INTO message_recipients VALUES (?,?,?,?)", recipients)
        db.executemany(
            "INSERT INTO message_categories (message_id, category, account_id, created_at)"
            " VALUES (?,?,?,?)",
            cats,
        )


def filters(
    rng: random.Random, count: int
) -> dict[str, Callable[[], tuple[Principal, MessageFilter, int]]]:
    reader = Principal(account_id="acme", kind="jwt", subject="bench")
    sender = Principal(
        account_id="acme",
        kind="api_key",
        subject="k",
        scopes=frozenset({"mail.send"}),
        api_key_id="key3",
    )

    def hour() -> str:
        start = T0 + rng.random() * (SPAN - 3600)
        iso = [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)) for t in (start, start + 3600)]
        return f'last_event_time BETWEEN TIMESTAMP "{iso[0]}" AND TIMESTAMP "{iso[1]}"'

    def q(text: Callable[[], str], size: int = 10, who: Principal = reader) -> Any:
        return lambda: (who, parse_query(text()), size)

    return {
        "newest (no filter)": lambda: (reader, NO_FILTER, 10),
        "newest, page 1000": lambda: (reader, NO_FILTER, 1000),
        "mail.send key: own": lambda: (sender, NO_FILTER, 10),
        "to_email": q(lambda: f'to_email="user{rng.randrange(ADDRESSES)}@example.com"'),
        "from_email": q(lambda: f'from_email="sender{rng.randrange(50)}@mail.example.com"'),
        "subject": q(lambda: f'subject="Subject {rng.randrange(1000)}"'),
        "status=bounced": q(lambda: 'status="bounced"'),
        "status=not_delivered": q(lambda: 'status="not_delivered"'),
        "msg_id": q(lambda: f'msg_id="{rng.randrange(count):012d}"'),
        "template_id": q(lambda: f'template_id="d-{rng.randrange(20):032x}"'),
        "categories": q(lambda: f'categories="cat{rng.randrange(20)}"'),
        "api_key_id": q(lambda: f'api_key_id="key{rng.randrange(10)}"'),
        "last_event_time 1 h": q(hour),
        "last_event_time 1 h, page 1000": q(hour, 1000),
        "status + category": q(lambda: f'status="bounced" AND categories="cat{rng.randrange(20)}"'),
        "to_email + status": q(
            lambda: f'to_email="user{rng.randrange(ADDRESSES)}@example.com" AND status="delivered"'
        ),
        "to_email OR to_email": q(
            lambda: (
                f'to_email="user{rng.randrange(ADDRESSES)}@example.com" '
                f'OR to_email="user{rng.randrange(ADDRESSES)}@example.com"'
            )
        ),
        "NOT category + status": q(
            lambda: f'status="bounced" AND NOT categories="cat{rng.randrange(20)}"'
        ),
        "subject LIKE prefix": q(lambda: f'subject LIKE "Subject {rng.randrange(1000)}%"'),
        "subject LIKE infix": q(lambda: f'subject LIKE "%ject {rng.randrange(1000)}"'),
    }


async def measure(path: Path, runs: int, count: int) -> list[tuple[str, float, float, float]]:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    service = MessageService(make_sessionmaker(engine))
    rng = random.Random(11)
    results = []
    for name, make in filters(rng, count).items():
        timings, found = [], 0
        for _ in range(runs):
            principal, wanted, size = make()
            started = time.perf_counter()
            found += len(await service.list(principal, wanted, page_size=size))
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        p99 = timings[min(len(timings) - 1, round(len(timings) * 0.99))]
        results.append((name, statistics.median(timings), p99, found / runs))
    await engine.dispose()
    return results


async def schema(path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    await engine.dispose()


async def analyse(path: Path) -> float:
    """What the server's retention round does after each pass (and at start)."""
    started = time.perf_counter()
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    async with make_sessionmaker(engine)() as session, session.begin():
        await refresh_statistics(session)
    await engine.dispose()
    return time.perf_counter() - started


def run(path: Path, count: int, runs: int, fresh: bool) -> None:
    if fresh:
        asyncio.run(schema(path))
        print(f"filled {count} messages in {fill(path, count):.1f} s")
    print(f"statistics refreshed in {asyncio.run(analyse(path)) * 1000:.0f} ms")
    print(f"{'filter':34} {'p50 ms':>8} {'p99 ms':>8} {'rows':>7}")
    for name, p50, p99, found in asyncio.run(measure(path, runs, count)):
        print(f"{name:34} {p50:8.1f} {p99:8.1f} {found:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=None, help="for the temporary database")
    parser.add_argument("--db", type=Path, default=None, help="keep the log here; reuse it")
    args = parser.parse_args()
    if args.db is not None:
        run(args.db, args.messages, args.runs, fresh=not args.db.exists())
        return
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        run(Path(folder) / "log.sqlite", args.messages, args.runs, fresh=True)


if __name__ == "__main__":
    main()
