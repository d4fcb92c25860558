"""The Overview page: today's and the last 30 days' totals of the headline metrics and a
daily series of each as a chart, read from the stats service that `/v3/stats` uses."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from markupsafe import Markup

from control.services import Services
from control.ui.caller import UiCaller
from control.ui.charts import bars_svg
from control.ui.rendering import AnyRequest, page, viewer
from mta.services.stats import DateStats, StatsRange, StatsService

DAYS = 30
HEADLINE = (
    ("requests", "Requests"),
    ("delivered", "Delivered"),
    ("bounces", "Bounces"),
    ("blocks", "Blocks"),
    ("spam_reports", "Spam reports"),
    ("opens", "Opens"),
    ("clicks", "Clicks"),
)


class MetricSummary(msgspec.Struct, frozen=True):
    name: str
    label: str
    today: int
    total: int
    chart: str  # SVG markup, made here from numbers only


def last_days(today: date, days: int = DAYS) -> StatsRange:
    return StatsRange(start=today - timedelta(days=days - 1), end=today)


def summaries(series: list[DateStats]) -> list[MetricSummary]:
    """One summary per headline metric from a daily series ending today (pure)."""
    daily = [_merged(d) for d in series]
    found = []
    for name, label in HEADLINE:
        values = [day.get(name, 0) for day in daily]
        chart = bars_svg(values, f"{label} per day, last {len(values)} days")
        found.append(MetricSummary(name, label, values[-1] if values else 0, sum(values), chart))
    return found


def _merged(day: DateStats) -> dict[str, int]:
    merged: dict[str, int] = {}
    for entry in day.stats:
        for name, value in entry.metrics.items():
            merged[name] = merged.get(name, 0) + value
    return merged


async def account_overview(stats: StatsService, account_id: str) -> list[MetricSummary]:
    return summaries(await stats.global_stats(account_id, last_days(stats.today())))


def chart_markup(summary: MetricSummary) -> Markup:
    # Safe to mark: bars_svg builds it from integers and an escaped label only.
    return Markup(summary.chart)


@get("/")
async def overview(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, "")
    if not isinstance(caller, UiCaller):
        return caller
    metrics = await account_overview(services.stats, caller.principal.account_id)
    charts = {m.name: chart_markup(m) for m in metrics}
    return page("overview.html", caller, metrics=metrics, charts=charts, current="")


HANDLERS = [overview]
