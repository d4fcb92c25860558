"""`/v3/user/webhooks`: create (secret shown once), list, get, delete."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post

from control.routes.common import read_body
from control.schemas.bodies import WebhookCreate
from mta.services.container import Services
from mta.services.identity import Principal
from mta.services.webhooks import WebhookView


@post("/v3/user/webhooks", status_code=201)
async def create_webhook(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> WebhookView:
    principal.require("user.webhooks.event.settings.create")
    body = await read_body(request, WebhookCreate)
    return await services.webhooks.create(principal.account_id, body.url, body.enabled_events)


@get("/v3/user/webhooks")
async def list_webhooks(services: Services, principal: Principal) -> list[WebhookView]:
    principal.require("user.webhooks.event.settings.read")
    return await services.webhooks.list(principal.account_id)


@get("/v3/user/webhooks/{webhook_id:str}")
async def get_webhook(webhook_id: str, services: Services, principal: Principal) -> WebhookView:
    principal.require("user.webhooks.event.settings.read")
    return await services.webhooks.get(principal.account_id, webhook_id)


@delete("/v3/user/webhooks/{webhook_id:str}", status_code=204)
async def delete_webhook(webhook_id: str, services: Services, principal: Principal) -> None:
    principal.require("user.webhooks.event.settings.delete")
    await services.webhooks.delete(principal.account_id, webhook_id)


ROUTES = [create_webhook, list_webhooks, get_webhook, delete_webhook]
