"""`/v3/user/webhooks`: create (secret shown once), list, get, change, delete, rotate, test,
the delivery log and redelivery; SendGrid's `/v3/user/webhooks/event/...` aliases."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from control.routes.common import read_body
from control.schemas.bodies import (
    EventWebhookSettings,
    EventWebhookTest,
    WebhookCreate,
    WebhookSignedUpdate,
    WebhookUpdate,
)
from control.services import Services
from mta.core.errors import ValidationError
from mta.services.identity import Principal
from mta.webhooks import (
    DeliveryDetail,
    DeliveryPage,
    DeliveryQuery,
    DeliveryView,
    OAuthInput,
    SignedView,
    WebhookChanges,
    WebhookView,
)

READ = "user.webhooks.event.settings.read"
UPDATE = "user.webhooks.event.settings.update"
MAX_PAGE = 500
OAuthBody = WebhookCreate | WebhookUpdate | EventWebhookSettings | EventWebhookTest


def oauth_input(body: OAuthBody) -> OAuthInput:
    return OAuthInput(
        client_id=body.oauth_client_id,
        client_secret=body.oauth_client_secret,
        token_url=body.oauth_token_url,
    )


@post("/v3/user/webhooks", status_code=201, opt={"scope": "user.webhooks.event.settings.create"})
async def create_webhook(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> WebhookView:
    body = await read_body(request, WebhookCreate)
    return await services.webhooks.create(
        principal.account_id,
        body.url,
        body.enabled_events,
        body.format,
        oauth_input(body),
        enabled=body.enabled,
    )


@get("/v3/user/webhooks", opt={"scope": READ})
async def list_webhooks(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[WebhookView]:
    return await services.webhooks.list(principal.account_id)


@get("/v3/user/webhooks/{webhook_id:str}", opt={"scope": READ})
async def get_webhook(
    webhook_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> WebhookView:
    return await services.webhooks.get(principal.account_id, webhook_id)


@patch("/v3/user/webhooks/{webhook_id:str}", opt={"scope": UPDATE})
async def update_webhook(
    webhook_id: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> WebhookView:
    body = await read_body(request, WebhookUpdate)
    changes = WebhookChanges(**msgspec.structs.asdict(body))
    return await services.webhooks.update(principal.account_id, webhook_id, changes)


@delete(
    "/v3/user/webhooks/{webhook_id:str}",
    status_code=204,
    opt={"scope": "user.webhooks.event.settings.delete"},
)
async def delete_webhook(
    webhook_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.webhooks.delete(principal.account_id, webhook_id)


@post("/v3/user/webhooks/{webhook_id:str}/rotate", status_code=200, opt={"scope": UPDATE})
async def rotate_secret(
    webhook_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> WebhookView:
    return await services.webhooks.rotate(principal.account_id, webhook_id)


@post("/v3/user/webhooks/{webhook_id:str}/test", status_code=202, opt={"scope": UPDATE})
async def test_webhook(
    webhook_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DeliveryView:
    return await services.webhooks.send_test(principal.account_id, webhook_id)


@get("/v3/user/webhooks/{webhook_id:str}/deliveries", opt={"scope": READ})
async def list_deliveries(
    webhook_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    delivery_state: Annotated[str | None, QueryParameter(name="state")] = None,
    event_type: FromQuery[str | None] = None,
    limit: FromQuery[int] = 50,
    offset: FromQuery[int] = 0,
) -> DeliveryPage:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    if offset < 0:
        raise ValidationError("offset must not be negative", field="offset")
    query = DeliveryQuery(state=delivery_state, event_type=event_type, limit=limit, offset=offset)
    return await services.webhooks.deliveries(principal.account_id, webhook_id, query)


@get("/v3/user/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}", opt={"scope": READ})
async def get_delivery(
    webhook_id: FromPath[str],
    delivery_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DeliveryDetail:
    return await services.webhooks.delivery(principal.account_id, webhook_id, delivery_id)


@post(
    "/v3/user/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver",
    status_code=202,
    opt={"scope": UPDATE},
)
async def redeliver(
    webhook_id: FromPath[str],
    delivery_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DeliveryView:
    return await services.webhooks.redeliver(principal.account_id, webhook_id, delivery_id)


@get("/v3/user/webhooks/event/settings", opt={"scope": READ})
async def get_event_settings(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    return await services.event_webhook.get(principal.account_id)


@patch("/v3/user/webhooks/event/settings", opt={"scope": UPDATE})
async def update_event_settings(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, Any]:
    body = await read_body(request, EventWebhookSettings)
    changes = {
        k: v
        for k, v in msgspec.structs.asdict(body).items()
        if v is not None and not k.startswith("oauth_")
    }
    return await services.event_webhook.update(principal.account_id, changes, oauth_input(body))


@get("/v3/user/webhooks/event/settings/signed", opt={"scope": READ})
async def get_signed(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> SignedView:
    return await services.event_webhook.signed(principal.account_id)


@patch("/v3/user/webhooks/event/settings/signed", opt={"scope": UPDATE})
async def update_signed(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> SignedView:
    body = await read_body(request, WebhookSignedUpdate)
    return await services.event_webhook.set_signed(principal.account_id, body.enabled)


@post("/v3/user/webhooks/event/test", status_code=204, opt={"scope": UPDATE})
async def test_event_webhook(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    body = await read_body(request, EventWebhookTest)
    await services.event_webhook.test(principal.account_id, body.url, oauth_input(body))


ROUTES = [
    create_webhook,
    list_webhooks,
    get_webhook,
    update_webhook,
    delete_webhook,
    rotate_secret,
    test_webhook,
    list_deliveries,
    get_delivery,
    redeliver,
    get_event_settings,
    update_event_settings,
    get_signed,
    update_signed,
    test_event_webhook,
]
