"""`/v3/mail/batch` (create and validate batch ids) and `/v3/user/scheduled_sends` (pause or
cancel a batch's scheduled sends, list, change, lift), as SendGrid's Cancel Scheduled Sends."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.routes.common import read_body
from control.schemas.batches import ScheduledSendCreate, ScheduledSendUpdate
from control.services import Services
from mta.services.batches import ScheduledSend
from mta.services.identity import Principal


@post("/v3/mail/batch", status_code=201, opt={"scope": "mail.batch.create"})
async def create_batch(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> dict[str, str]:
    return {"batch_id": await services.batches.create(principal.account_id)}


@get("/v3/mail/batch/{batch_id:str}", opt={"scope": "mail.batch.read"})
async def validate_batch(
    batch_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, str]:
    return {"batch_id": await services.batches.validate(principal.account_id, batch_id)}


@post("/v3/user/scheduled_sends", status_code=201, opt={"scope": "user.scheduled_sends.create"})
async def pause_or_cancel(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> ScheduledSend:
    body = await read_body(request, ScheduledSendCreate)
    return await services.batches.pause_or_cancel(principal.account_id, body.batch_id, body.status)


@get("/v3/user/scheduled_sends", opt={"scope": "user.scheduled_sends.read"})
async def list_scheduled(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[ScheduledSend]:
    return await services.batches.list_scheduled(principal.account_id)


@get("/v3/user/scheduled_sends/{batch_id:str}", opt={"scope": "user.scheduled_sends.read"})
async def get_scheduled(
    batch_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> list[ScheduledSend]:
    return await services.batches.get(principal.account_id, batch_id)


@patch(
    "/v3/user/scheduled_sends/{batch_id:str}",
    status_code=204,
    opt={"scope": "user.scheduled_sends.update"},
)
async def update_scheduled(
    batch_id: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    body = await read_body(request, ScheduledSendUpdate)
    await services.batches.update(principal.account_id, batch_id, body.status)


@delete(
    "/v3/user/scheduled_sends/{batch_id:str}",
    status_code=204,
    opt={"scope": "user.scheduled_sends.delete"},
)
async def delete_scheduled(
    batch_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.batches.delete(principal.account_id, batch_id)


ROUTES = [
    create_batch,
    validate_batch,
    pause_or_cancel,
    list_scheduled,
    get_scheduled,
    update_scheduled,
    delete_scheduled,
]
