"""Stats read from the daily aggregates: global, per category, and category sums, by day,
week (from Monday) or month, in SendGrid's shapes and metric names. Days are UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import ValidationError
from mta.db.models import DailyStats
from mta.events.stats import ALL_CATEGORIES, METRICS

MAX_DAYS = 3660  # one request covers at most about ten years
MAX_CATEGORIES = 10
Aggregation = Literal["day", "week", "month"]


class StatsRange(msgspec.Struct, frozen=True, kw_only=True):
    start: date
    end: date
    aggregated_by: Aggregation = "day"


class StatEntry(msgspec.Struct, kw_only=True, omit_defaults=True):
    type: str | None = None
    name: str | None = None
    metrics: dict[str, int]


class DateStats(msgspec.Struct, kw_only=True):
    date: str
    stats: list[StatEntry]


def parse_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{field} must be a date as YYYY-MM-DD", field=field) from None


def stats_range(
    start_date: str | None, end_date: str | None, aggregated_by: str | None, today: date
) -> StatsRange:
    """The checked parameters SendGrid's stats endpoints share; end_date defaults to today."""
    if not start_date:
        raise ValidationError("start_date is required", field="start_date")
    start = parse_day(start_date, "start_date")
    end = parse_day(end_date, "end_date") if end_date else today
    if end < start:
        raise ValidationError("end_date must not be before start_date", field="end_date")
    if (end - start).days >= MAX_DAYS:
        raise ValidationError(f"at most {MAX_DAYS} days in one request", field="end_date")
    by = aggregated_by or "day"
    if by not in ("day", "week", "month"):
        raise ValidationError("aggregated_by must be day, week or month", field="aggregated_by")
    return StatsRange(start=start, end=end, aggregated_by=by)  # type: ignore[arg-type]


def bucket(day: date, span: StatsRange) -> date:
    """The first day of the period `day` falls in, clipped to the range's start."""
    if span.aggregated_by == "week":
        day = day - timedelta(days=day.weekday())
    elif span.aggregated_by == "month":
        day = day.replace(day=1)
    return max(day, span.start)


def buckets(span: StatsRange) -> list[date]:
    found: dict[date, None] = {}
    day = span.start
    while day <= span.end:
        found[bucket(day, span)] = None
        day += timedelta(days=1)
    return list(found)


def zero() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


def add_row(into: dict[str, int], row: Any) -> None:
    for metric in METRICS:
        into[metric] += getattr(row, metric) or 0


def sort_entries(
    entries: list[StatEntry], metric: str, direction: str, limit: int, offset: int
) -> list[StatEntry]:
    if metric not in METRICS:
        raise ValidationError(f"unknown metric {metric!r}", field="sort_by_metric")
    if direction not in ("asc", "desc"):
        raise ValidationError("sort_by_direction must be asc or desc", field="sort_by_direction")
    if limit < 1 or offset < 0:
        raise ValidationError("limit must be at least 1 and offset at least 0", field="limit")
    ordered = sorted(entries, key=lambda e: e.name or "")
    ordered.sort(key=lambda e: e.metrics[metric], reverse=direction == "desc")
    return ordered[offset : offset + limit]


def page(items: list[DateStats], limit: int | None, offset: int) -> list[DateStats]:
    if (limit is not None and limit < 1) or offset < 0:
        raise ValidationError("limit must be at least 1 and offset at least 0", field="limit")
    return items[offset : offset + limit if limit is not None else None]


def day_of(now: float) -> date:
    """The UTC day of a Unix time."""
    return datetime.fromtimestamp(now, UTC).date()


class StatsService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    def today(self) -> date:
        """Today (UTC) on the server's clock: where a stats range without end_date ends."""
        return day_of(self._clock.time())

    async def _rows(self, account_id: str, categories: list[str], span: StatsRange) -> list[Any]:
        query = select(DailyStats).where(
            DailyStats.account_id == account_id,
            DailyStats.category.in_(categories),
            DailyStats.day >= span.start.isoformat(),
            DailyStats.day <= span.end.isoformat(),
        )
        async with self._sessions() as session:
            return list(await session.scalars(query))

    async def _by_bucket(
        self, account_id: str, categories: list[str], span: StatsRange
    ) -> dict[date, dict[str, dict[str, int]]]:
        """bucket → category → metrics, every bucket and category present (zeros)."""
        table = {b: {c: zero() for c in categories} for b in buckets(span)}
        for row in await self._rows(account_id, categories, span):
            add_row(table[bucket(date.fromisoformat(row.day), span)][row.category], row)
        return table

    async def global_stats(self, account_id: str, span: StatsRange) -> list[DateStats]:
        table = await self._by_bucket(account_id, [ALL_CATEGORIES], span)
        return [
            DateStats(date=b.isoformat(), stats=[StatEntry(metrics=found[ALL_CATEGORIES])])
            for b, found in table.items()
        ]

    async def category_stats(
        self, account_id: str, categories: list[str], span: StatsRange
    ) -> list[DateStats]:
        wanted = list(dict.fromkeys(c for c in categories if c))
        if not wanted:
            raise ValidationError("categories is required", field="categories")
        if len(wanted) > MAX_CATEGORIES:
            raise ValidationError(
                f"at most {MAX_CATEGORIES} categories in one request", field="categories"
            )
        table = await self._by_bucket(account_id, wanted, span)
        return [
            DateStats(
                date=b.isoformat(),
                stats=[StatEntry(type="category", name=c, metrics=m) for c, m in found.items()],
            )
            for b, found in table.items()
        ]

    async def category_sums(
        self,
        account_id: str,
        span: StatsRange,
        *,
        sort_by_metric: str = "delivered",
        sort_by_direction: str = "desc",
        limit: int = 5,
        offset: int = 0,
    ) -> DateStats:
        """Every category's totals over the range, sorted and paged."""
        sums = [func.sum(getattr(DailyStats, m)).label(m) for m in METRICS]
        query = (
            select(DailyStats.category, *sums)
            .where(
                DailyStats.account_id == account_id,
                DailyStats.category != ALL_CATEGORIES,
                DailyStats.day >= span.start.isoformat(),
                DailyStats.day <= span.end.isoformat(),
            )
            .group_by(DailyStats.category)
        )
        async with self._sessions() as session:
            rows = list(await session.execute(query))
        entries = []
        for row in rows:
            metrics = zero()
            add_row(metrics, row)
            entries.append(StatEntry(type="category", name=row.category, metrics=metrics))
        chosen = sort_entries(entries, sort_by_metric, sort_by_direction, limit, offset)
        return DateStats(date=span.start.isoformat(), stats=chosen)
