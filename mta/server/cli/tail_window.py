"""Following an event feed whose rows may commit out of id order: which cursor each poll starts
from, and which of the events it reads are new (`scaisend events tail`).

Workers write events in batches, so an event with a smaller id can commit after a larger one
was read. Each poll therefore re-reads a few seconds of ids behind the newest one seen and
drops the ids already shown; it remembers only the ids inside that window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from mta.core.model import id_floor, id_time

LOOKBACK_SECONDS = 5.0  # how late behind a newer event one may still commit and be shown
MAX_PAGES = 50  # pages a poll reads at most; the next poll goes on from there

Event = dict[str, Any]


class Page(msgspec.Struct):
    """One answer of the feed: events after the cursor asked with, oldest first."""

    events: list[Event]
    next: str


Fetch = Callable[[str], Page]  # a page of events after the cursor given


class TailWindow:
    """The events of a feed, each once, from `floor` (an id or an id prefix) on."""

    def __init__(self, floor: str, lookback: float = LOOKBACK_SECONDS) -> None:
        self._floor = floor
        self._lookback = lookback
        self._newest = floor
        self._seen: set[str] = set()

    def start(self) -> str:
        """Where a poll starts: `lookback` seconds of ids behind the newest seen, not before
        the floor."""
        return max(self._floor, id_floor(id_time(self._newest) - self._lookback))

    def admit(self, events: list[Event]) -> list[Event]:
        """The events not shown yet, in the order given; they count as shown from now on."""
        fresh = [e for e in events if e["event_id"] not in self._seen]
        for event in fresh:
            self._seen.add(event["event_id"])
            self._newest = max(self._newest, event["event_id"])
        return fresh

    def forget_old(self) -> None:
        """Drop the ids that no poll reads again (below start())."""
        start = self.start()
        self._seen = {event_id for event_id in self._seen if event_id > start}

    def remembered(self) -> int:
        return len(self._seen)


class Tail:
    """Polls a feed through `fetch` and hands back each event once."""

    def __init__(self, fetch: Fetch, window: TailWindow, page_size: int) -> None:
        self._fetch = fetch
        self._window = window
        self._page_size = page_size
        self._resume: str | None = None  # set when a poll stopped at MAX_PAGES, still behind

    def poll(self) -> list[Event]:
        """The new events, reading from the window's start (or on from where the last poll
        stopped, when it had more to read) at most MAX_PAGES pages."""
        cursor = self._resume if self._resume is not None else self._window.start()
        self._resume = None
        fresh: list[Event] = []
        for _ in range(MAX_PAGES):
            page = self._fetch(cursor)
            fresh += self._window.admit(page.events)
            if len(page.events) < self._page_size:
                break
            cursor = page.next
        else:
            self._resume = cursor
        self._window.forget_old()
        return fresh
