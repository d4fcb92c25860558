"""`/v3/stats`, `/v3/categories/stats` and `/v3/categories/stats/sums`: SendGrid's stats
endpoints over the daily aggregates (start_date required, end_date, aggregated_by)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from control.services import Services
from mta.services.identity import Principal
from mta.services.stats import DateStats, page, stats_range


@get("/v3/stats", opt={"scope": ("stats.read", "stats.global.read")})
async def global_stats(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    aggregated_by: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    offset: FromQuery[int] = 0,
) -> list[DateStats]:
    span = stats_range(start_date, end_date, aggregated_by, services.stats.today())
    return page(await services.stats.global_stats(principal.account_id, span), limit, offset)


@get("/v3/categories/stats", opt={"scope": "categories.stats.read"})
async def category_stats(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    categories: FromQuery[list[str] | None] = None,
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    aggregated_by: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    offset: FromQuery[int] = 0,
) -> list[DateStats]:
    span = stats_range(start_date, end_date, aggregated_by, services.stats.today())
    found = await services.stats.category_stats(principal.account_id, categories or [], span)
    return page(found, limit, offset)


@get("/v3/categories/stats/sums", opt={"scope": "categories.stats.sums.read"})
async def category_sums(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    aggregated_by: FromQuery[str | None] = None,
    sort_by_metric: FromQuery[str] = "delivered",
    sort_by_direction: FromQuery[str] = "desc",
    limit: FromQuery[int] = 5,
    offset: FromQuery[int] = 0,
) -> DateStats:
    span = stats_range(start_date, end_date, aggregated_by, services.stats.today())
    return await services.stats.category_sums(
        principal.account_id,
        span,
        sort_by_metric=sort_by_metric,
        sort_by_direction=sort_by_direction,
        limit=limit,
        offset=offset,
    )


ROUTES = [global_stats, category_stats, category_sums]
