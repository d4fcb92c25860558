"""The message log's filter tree: And / Or / Not over Match, Like and TimeRange, as a `query=`
expression (mta.services.message_query) or the plain list parameters narrow the log."""

from __future__ import annotations

import msgspec


class Match(msgspec.Struct, frozen=True):
    """`field` is one of `values` (`=`, IN, Contains); for to_email and categories: the
    message has such a recipient or category."""

    field: str
    values: tuple[str, ...]


class Like(msgspec.Struct, frozen=True):
    """`field` matches the LIKE `pattern` (escape character: backslash)."""

    field: str
    pattern: str


class TimeRange(msgspec.Struct, frozen=True):
    """`field` within [after, before] (Unix seconds, both inclusive; None: open): the
    message's last_event_time (the `query=` language's), or created_at (when it was
    accepted: the dashboard's date range, which the newest-first order's index serves)."""

    after: float | None = None
    before: float | None = None
    field: str = "last_event_time"


class Not(msgspec.Struct, frozen=True):
    item: MessageFilter


class And(msgspec.Struct, frozen=True):
    """Every item holds; no items: every message."""

    items: tuple[MessageFilter, ...]


class Or(msgspec.Struct, frozen=True):
    items: tuple[MessageFilter, ...]


MessageFilter = And | Or | Not | Match | Like | TimeRange
NO_FILTER = And(())
