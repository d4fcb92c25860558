"""Following a feed whose rows commit out of id order (`scaisend events tail`): an event that
commits late behind the newest one read is still shown, once; nothing before the floor or
behind the look-back is; memory holds only the window; a flood is read on, not re-read."""

from __future__ import annotations

import argparse
from typing import Any

from mta.core.model import id_floor, new_id
from mta.server.cli.events import event_line, follow
from mta.server.cli.tail_window import LOOKBACK_SECONDS, MAX_PAGES, Page, Tail, TailWindow

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class Feed:
    """The server's side, in memory: committed events, answered in id order after a cursor,
    `limit` at a time (as GET /v3/user/events answers)."""

    def __init__(self, limit: int = 100) -> None:
        self.rows: list[dict[str, Any]] = []
        self.limit = limit
        self.asked: list[str] = []

    def commit(self, at: float, event: str = "delivered") -> str:
        event_id = new_id(at)
        self.rows.append({"event_id": event_id, "event": event, "timestamp": int(at)})
        return event_id

    def fetch(self, after: str) -> Page:
        self.asked.append(after)
        found = sorted((r for r in self.rows if r["event_id"] > after), key=lambda r: r["event_id"])
        page = found[: self.limit]
        return Page(events=page, next=page[-1]["event_id"] if page else after)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def test_an_event_committed_late_behind_the_cursor_is_shown_once() -> None:
    feed = Feed()
    tail = Tail(feed.fetch, TailWindow(id_floor(T0)), feed.limit)
    first = feed.commit(T0 + 1.0)
    newer = feed.commit(T0 + 2.0)  # another worker's batch is not committed yet
    assert ids(tail.poll()) == [first, newer]
    late = feed.commit(T0 + 1.5)  # made before `newer`, committed after it was read
    assert ids(tail.poll()) == [late]
    assert tail.poll() == []  # and never again
    after = feed.commit(T0 + 3.0)
    assert ids(tail.poll()) == [after]


def test_nothing_before_the_floor_or_behind_the_look_back() -> None:
    feed = Feed()
    feed.commit(T0 - 0.5)  # before the tail began: not shown, also when it is re-read
    tail = Tail(feed.fetch, TailWindow(id_floor(T0)), feed.limit)
    newest = feed.commit(T0 + 20)
    assert ids(tail.poll()) == [newest]
    feed.commit(T0 + 20 - LOOKBACK_SECONDS - 1)  # later than the look-back allows for
    feed.commit(T0 + 1)  # after the floor but long behind the newest
    assert tail.poll() == []


def test_only_the_window_is_remembered() -> None:
    feed = Feed()
    window = TailWindow(id_floor(T0))
    tail = Tail(feed.fetch, window, feed.limit)
    for second in range(60):
        for tenth in range(10):
            feed.commit(T0 + second + tenth / 10)
        tail.poll()
    # About LOOKBACK_SECONDS of events (10 a second), not the 600 shown.
    assert window.remembered() <= (LOOKBACK_SECONDS + 1) * 10


def test_a_poll_reads_page_after_page_and_a_flood_goes_on_where_it_stopped() -> None:
    feed = Feed(limit=10)
    tail = Tail(feed.fetch, TailWindow(id_floor(T0)), feed.limit)
    made = [feed.commit(T0 + 1 + n / 1000) for n in range(10 * MAX_PAGES + 25)]
    first = tail.poll()
    assert ids(first) == made[: 10 * MAX_PAGES] and len(feed.asked) == MAX_PAGES
    resumed_from = first[-1]["event_id"]
    second = tail.poll()
    assert feed.asked[MAX_PAGES] == resumed_from  # on from there, not the window again
    assert ids(second) == made[10 * MAX_PAGES :]


def test_follow_stops_after_count_events() -> None:
    feed = Feed()
    for n in range(5):
        feed.commit(T0 + 1 + n, event="bounce")
    lines: list[str] = []
    args = argparse.Namespace(count=3, duration=None, json=False)
    follow(Tail(feed.fetch, TailWindow(id_floor(T0)), feed.limit), args, lines.append)
    assert len(lines) == 3 and all("  bounce  " in line for line in lines)


def test_follow_stops_after_its_time_with_none() -> None:
    feed = Feed()
    lines: list[str] = []
    args = argparse.Namespace(count=None, duration=1, json=True)
    follow(Tail(feed.fetch, TailWindow(id_floor(T0)), feed.limit), args, lines.append)
    assert lines == [] and len(feed.asked) >= 2  # it polled more than once, then stopped


def test_the_line_shows_the_detail_the_event_has() -> None:
    bounce = {
        "event": "bounce",
        "email": "ada@example.com",
        "message_id": "m1",
        "timestamp": int(T0),
        "reason": "550 5.1.1 user unknown",
    }
    line = event_line(bounce)
    assert line.endswith("  bounce             ada@example.com  m1  550 5.1.1 user unknown")
    processed = {"event": "processed", "email": "a@b.c", "message_id": "m2", "timestamp": 0}
    assert event_line(processed).endswith("processed          a@b.c  m2")
    click = {**processed, "event": "click", "url": "https://example.com/a"}
    assert event_line(click).endswith("  m2  https://example.com/a")
