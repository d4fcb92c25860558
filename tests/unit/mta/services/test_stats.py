"""Stats: the shared parameters, day/week/month buckets, sorting of sums (tables), and the
service over daily aggregates on a real SQLite database (zeros filled in, accounts apart)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.db.models import DailyStats
from mta.events.stats import METRICS
from mta.services.stats import (
    StatEntry,
    StatsRange,
    StatsService,
    bucket,
    buckets,
    sort_entries,
    stats_range,
    zero,
)

TODAY = date(2026, 3, 15)


def span(start: str, end: str, by: Any = "day") -> StatsRange:
    return StatsRange(
        start=date.fromisoformat(start), end=date.fromisoformat(end), aggregated_by=by
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("2026-01-01", None, None), span("2026-01-01", "2026-03-15")),
        (("2026-01-01", "2026-01-31", "week"), span("2026-01-01", "2026-01-31", "week")),
        (("2026-01-01", "2026-01-01", "month"), span("2026-01-01", "2026-01-01", "month")),
        (("2026-01-01", "", ""), span("2026-01-01", "2026-03-15")),
    ],
)
def test_stats_range(args: tuple[Any, ...], expected: StatsRange) -> None:
    assert stats_range(*args, TODAY) == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((None, None, None), "start_date"),
        (("", None, None), "start_date"),
        (("2026-13-01", None, None), "start_date"),
        (("01/02/2026", None, None), "start_date"),
        (("2026-01-02", "2026-01-01", None), "end_date"),
        (("2026-01-01", "tomorrow", None), "end_date"),
        (("2000-01-01", "2026-01-01", None), "end_date"),
        (("2026-01-01", None, "year"), "aggregated_by"),
        (("2026-01-01", None, "DAY"), "aggregated_by"),
    ],
)
def test_stats_range_refuses(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        stats_range(*args, TODAY)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("day", "by", "expected"),
    [
        ("2026-01-07", "day", "2026-01-07"),
        ("2026-01-07", "week", "2026-01-05"),  # a Wednesday → its Monday
        ("2026-01-05", "week", "2026-01-05"),
        ("2026-01-03", "week", "2026-01-02"),  # clipped to the start
        ("2026-02-17", "month", "2026-02-01"),
        ("2026-01-17", "month", "2026-01-02"),
    ],
)
def test_bucket(day: str, by: str, expected: str) -> None:
    assert bucket(date.fromisoformat(day), span("2026-01-02", "2026-03-01", by)) == (
        date.fromisoformat(expected)
    )


def test_buckets() -> None:
    weeks = buckets(span("2026-01-01", "2026-01-20", "week"))
    assert [d.isoformat() for d in weeks] == [
        "2026-01-01",
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
    ]
    months = buckets(span("2026-01-15", "2026-03-01", "month"))
    assert [d.isoformat() for d in months] == ["2026-01-15", "2026-02-01", "2026-03-01"]
    assert len(buckets(span("2026-01-01", "2026-12-31"))) == 365


def entry(name: str, **metrics: int) -> StatEntry:
    return StatEntry(type="category", name=name, metrics={**zero(), **metrics})


def test_sort_entries() -> None:
    entries = [entry("b", delivered=5), entry("a", delivered=5), entry("c", delivered=9)]
    names = [e.name for e in sort_entries(entries, "delivered", "desc", 5, 0)]
    assert names == ["c", "a", "b"]
    names = [e.name for e in sort_entries(entries, "delivered", "asc", 2, 1)]
    assert names == ["b", "c"]


@pytest.mark.parametrize(
    ("metric", "direction", "limit", "offset", "field"),
    [
        ("nope", "desc", 5, 0, "sort_by_metric"),
        ("delivered", "up", 5, 0, "sort_by_direction"),
        ("delivered", "desc", 0, 0, "limit"),
        ("delivered", "desc", 5, -1, "limit"),
    ],
)
def test_sort_entries_refuses(
    metric: str, direction: str, limit: int, offset: int, field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        sort_entries([], metric, direction, limit, offset)
    assert raised.value.field == field


def row(account: str, category: str, day: str, **metrics: int) -> DailyStats:
    return DailyStats(account_id=account, category=category, day=day, **{**zero(), **metrics})


@pytest.fixture
async def service(sessions: Any) -> StatsService:
    async with sessions() as session:
        session.add_all(
            [
                row("acme", "", "2026-01-05", delivered=3, processed=4),
                row("acme", "", "2026-01-06", delivered=1, opens=2),
                row("acme", "", "2026-02-01", bounces=1),
                row("acme", "welcome", "2026-01-05", delivered=2),
                row("acme", "promo", "2026-01-06", delivered=1, clicks=7),
                row("other", "", "2026-01-05", delivered=100),
                row("other", "welcome", "2026-01-05", delivered=100),
            ]
        )
        await session.commit()
    return StatsService(sessions)


async def test_global_by_day_fills_zeros(service: StatsService) -> None:
    found = await service.global_stats("acme", span("2026-01-04", "2026-01-06"))
    assert [d.date for d in found] == ["2026-01-04", "2026-01-05", "2026-01-06"]
    assert found[0].stats[0].metrics == zero()
    assert list(found[1].stats[0].metrics) == list(METRICS)
    assert found[1].stats[0].metrics["delivered"] == 3
    assert found[1].stats[0].type is None


async def test_global_by_month(service: StatsService) -> None:
    found = await service.global_stats("acme", span("2026-01-01", "2026-02-28", "month"))
    assert [d.date for d in found] == ["2026-01-01", "2026-02-01"]
    january = found[0].stats[0].metrics
    assert (january["delivered"], january["processed"], january["opens"]) == (4, 4, 2)
    assert found[1].stats[0].metrics["bounces"] == 1


async def test_categories_by_week(service: StatsService) -> None:
    found = await service.category_stats(
        "acme", ["welcome", "promo", "none"], span("2026-01-05", "2026-01-11", "week")
    )
    assert [d.date for d in found] == ["2026-01-05"]
    by_name = {s.name: s.metrics for s in found[0].stats}
    assert [s.type for s in found[0].stats] == ["category"] * 3
    assert by_name["welcome"]["delivered"] == 2
    assert (by_name["promo"]["delivered"], by_name["promo"]["clicks"]) == (1, 7)
    assert by_name["none"] == zero()


@pytest.mark.parametrize("categories", [[], [""], [f"c{i}" for i in range(11)]])
async def test_categories_are_checked(service: StatsService, categories: list[str]) -> None:
    with pytest.raises(ValidationError) as raised:
        await service.category_stats("acme", categories, span("2026-01-01", "2026-01-02"))
    assert raised.value.field == "categories"


async def test_sums(service: StatsService) -> None:
    found = await service.category_sums("acme", span("2026-01-01", "2026-01-31"))
    assert found.date == "2026-01-01"
    assert [(s.name, s.metrics["delivered"]) for s in found.stats] == [("welcome", 2), ("promo", 1)]
    by_clicks = await service.category_sums(
        "acme", span("2026-01-01", "2026-01-31"), sort_by_metric="clicks", limit=1
    )
    assert [s.name for s in by_clicks.stats] == ["promo"]
    empty = await service.category_sums("acme", span("2026-02-01", "2026-02-28"))
    assert empty.stats == []
