"""The Overview's summaries from a daily series: today is the last day, the total sums the
days, every headline metric is present (zeros when absent), each with its chart."""

from __future__ import annotations

from datetime import date

from control.ui.pages.overview import HEADLINE, last_days, summaries
from mta.services.stats import DateStats, StatEntry


def day(text: str, **metrics: int) -> DateStats:
    return DateStats(date=text, stats=[StatEntry(metrics=metrics)])


def test_today_is_the_last_day_and_the_total_sums_them() -> None:
    series = [day("2026-01-01", requests=3, delivered=2), day("2026-01-02", requests=4, opens=1)]
    found = {s.name: s for s in summaries(series)}
    assert [s.name for s in summaries(series)] == [name for name, _ in HEADLINE]
    assert (found["requests"].today, found["requests"].total) == (4, 7)
    assert (found["delivered"].today, found["delivered"].total) == (0, 2)
    assert (found["clicks"].today, found["clicks"].total) == (0, 0)
    assert found["opens"].chart.count("<rect") == 2


def test_the_span_is_thirty_days_ending_today() -> None:
    span = last_days(date(2026, 3, 1))
    assert (span.start, span.end, span.aggregated_by) == (
        date(2026, 1, 31),
        date(2026, 3, 1),
        "day",
    )
