"""`/v3/user/webhooks/parse/settings`: SendGrid's Inbound Parse hostnames of the account
(create, list, get, change, delete by hostname); ours: the log of parse posts, redelivery."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from control.routes.common import read_body
from control.schemas.bodies import ParseSettingCreate, ParseSettingUpdate
from control.services import Services
from mta.inbound_mail.parse_inbox import ParseDelivery
from mta.inbound_mail.parse_settings import ParseChanges, ParseSettingView
from mta.services.identity import Principal
from mta.services.stats import DateStats, page, stats_range

PATH = "/v3/user/webhooks/parse/settings"
ONE = PATH + "/{hostname:str}"
MESSAGES = "/v3/user/webhooks/parse/messages"  # ours: the delivery log
SCOPE = "user.webhooks.parse.settings"
MAX_OFFSET = 10_000_000  # beyond any log; an SQL integer overflows long after


class ParseSettingList(msgspec.Struct):
    result: list[ParseSettingView]


@post(PATH, status_code=201, opt={"scope": f"{SCOPE}.create"})
async def create_parse_setting(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ParseSettingView:
    body = await read_body(request, ParseSettingCreate)
    return await services.parse_settings.create(
        principal.account_id, body.hostname, body.url, body.spam_check, body.send_raw
    )


@get(PATH, opt={"scope": f"{SCOPE}.read"})
async def list_parse_settings(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> ParseSettingList:
    return ParseSettingList(result=await services.parse_settings.list(principal.account_id))


@get(ONE, opt={"scope": f"{SCOPE}.read"})
async def get_parse_setting(
    hostname: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ParseSettingView:
    return await services.parse_settings.get(principal.account_id, hostname)


@patch(ONE, opt={"scope": f"{SCOPE}.update"})
async def update_parse_setting(
    hostname: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ParseSettingView:
    body = await read_body(request, ParseSettingUpdate)
    changes = ParseChanges(**msgspec.structs.asdict(body))
    return await services.parse_settings.update(principal.account_id, hostname, changes)


@delete(ONE, status_code=204, opt={"scope": f"{SCOPE}.delete"})
async def delete_parse_setting(
    hostname: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.parse_settings.delete(principal.account_id, hostname)


class ParseDeliveryList(msgspec.Struct):
    result: list[ParseDelivery]


@get(MESSAGES, opt={"scope": f"{SCOPE}.read"})
async def list_parse_messages(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    offset: Annotated[int, QueryParameter(ge=0, le=MAX_OFFSET)] = 0,
) -> ParseDeliveryList:
    found = await services.parse_inbox.deliveries(principal.account_id, limit, offset)
    return ParseDeliveryList(result=found)


@post(MESSAGES + "/{parse_id:str}/redeliver", status_code=202, opt={"scope": f"{SCOPE}.update"})
async def redeliver_parse_message(
    parse_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ParseDelivery:
    return await services.parse_inbox.redeliver(principal.account_id, parse_id)


@get("/v3/user/webhooks/parse/stats", opt={"scope": "user.webhooks.parse.stats.read"})
async def parse_stats(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    aggregated_by: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    offset: FromQuery[int] = 0,
) -> list[DateStats]:
    """SendGrid's Inbound Parse stats: `received` per day, week or month."""
    span = stats_range(start_date, end_date, aggregated_by, services.stats.today())
    found = await services.parse_inbox.received_per_day(principal.account_id, span)
    return page(found, limit, offset)


ROUTES = [
    parse_stats,
    list_parse_messages,
    redeliver_parse_message,
    create_parse_setting,
    list_parse_settings,
    get_parse_setting,
    update_parse_setting,
    delete_parse_setting,
]
