"""The Webhooks page: the account's event webhook targets (made through `/v3/user/webhooks` or
SendGrid's `/v3/user/webhooks/event/settings`, one table), each one's settings, secret
rotation, test event and delivery log with each attempt's request and answer, and redelivery."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.schemas.bodies import WebhookCreate, WebhookUpdate
from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct
from control.ui.pages.webhooks_view import (
    DONE,
    EVENTS,
    FORMATS,
    SLUG,
    Change,
    bounded,
    delivery_row,
    event_fields,
    saved_fields,
    settings_hook_id,
    targets,
    when,
)
from control.ui.paging import paging_of, shown, shown_from_all
from control.ui.rendering import AnyRequest, missing, page, posted_lists, poster, viewer
from mta.core.errors import Conflict, NotFound, ScaiSendError
from mta.webhooks import DeliveryDetail, DeliveryQuery, WebhookChanges

CREATE = "user.webhooks.event.settings.create"
UPDATE = "user.webhooks.event.settings.update"
DELETE = "user.webhooks.event.settings.delete"


# -- the list ------------------------------------------------------------------------------


@get("/webhooks")
async def webhooks(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    done = DONE.get(request.query_params.get("done", ""), "")
    return await webhook_list(request, services, caller, done=done)


async def webhook_list(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    done: str = "",
) -> Any:
    query = dict(request.query_params)
    views = await services.webhooks.list(caller.principal.account_id)
    listed = shown_from_all(targets(views), paging_of(query), query)
    form = typed or {"url": "", "enabled_events": ["delivered", "bounce"], "format": "scaisend"}
    return page(
        "webhooks.html",
        caller,
        status,
        current=SLUG,
        webhooks=listed,
        errors=errors or {},
        form=form,
        enabled=typed.get("enabled", True) if typed else True,
        events=EVENTS,
        formats=FORMATS,
        done=done,
        can=abilities(caller),
    )


def abilities(caller: UiCaller) -> dict[str, bool]:
    has = caller.principal.has_scope
    return {"create": has(CREATE), "update": has(UPDATE), "delete": has(DELETE)}


@post("/webhooks", status_code=200)
async def add_webhook(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG, CREATE)
    if not isinstance(posted, tuple):
        return posted
    caller, _ = posted
    lists = await posted_lists(request)
    fields = {**event_fields(lists), "enabled": "enabled" in lists}
    try:
        body = form_struct(fields, WebhookCreate)
        made = await services.webhooks.create(
            caller.principal.account_id,
            body.url,
            body.enabled_events,
            body.format,
            enabled=body.enabled,
        )
    except ScaiSendError as exc:
        return await webhook_list(request, services, caller, 400, field_errors(exc), fields)
    return await webhook_page(
        request, services, caller, made.id, secret=made.signing_secret, done="Webhook added."
    )


# -- one webhook ---------------------------------------------------------------------------


@get("/webhooks/{webhook_id:str}")
async def webhook(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    done = DONE.get(request.query_params.get("done", ""), "")
    return await webhook_page(request, services, caller, webhook_id, done=done)


async def webhook_page(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    webhook_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    secret: str | None = None,
    done: str = "",
) -> Any:
    account = caller.principal.account_id
    try:
        hook = await services.webhooks.get(account, webhook_id)
    except NotFound:
        return missing(caller, SLUG)
    query = dict(request.query_params)
    paging = paging_of(query)
    found = await services.webhooks.deliveries(
        account, webhook_id, DeliveryQuery(limit=paging.fetch, offset=paging.offset)
    )
    deliveries = shown([delivery_row(v) for v in found.result], paging, query)
    views = await services.webhooks.list(account)
    signing = await services.event_webhook.signed(account) if hook.format == "sendgrid" else None
    return page(
        "webhook.html",
        caller,
        status,
        title=hook.url,
        current=SLUG,
        hook=hook,
        created=when(hook.created_at),
        settings_hook=settings_hook_id(views) == hook.id,
        signing=signing,
        deliveries=deliveries,
        total=found._metadata.count,
        errors=errors or {},
        form=typed or saved_fields(hook),
        events=EVENTS,
        formats=FORMATS,
        secret=secret,
        done=done,
        can=abilities(caller),
    )


@post("/webhooks/{webhook_id:str}", status_code=200)
async def change_webhook(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    checked = await poster(request, services, SLUG, UPDATE)
    if not isinstance(checked, tuple):
        return checked
    caller, _ = checked
    fields = event_fields(await posted_lists(request))
    try:
        body = form_struct(fields, WebhookUpdate)
        changes = WebhookChanges(**msgspec.structs.asdict(body))
        await services.webhooks.update(caller.principal.account_id, webhook_id, changes)
    except NotFound:
        return missing(caller, SLUG)
    except ScaiSendError as exc:
        errors = field_errors(exc)
        return await webhook_page(request, services, caller, webhook_id, 400, errors, fields)
    return Redirect(f"/ui/webhooks/{webhook_id}?done=saved", status_code=303)


async def changed(request: AnyRequest, services: Services, scope: str, change: Change) -> Any:
    """Check the caller and its `scope`, make `change` to the account's webhook and redirect
    to the page it names; another account's webhook is a 404 page."""
    checked = await poster(request, services, SLUG, scope)
    if not isinstance(checked, tuple):
        return checked
    caller, form = checked
    try:
        where = await change(caller.principal.account_id, form)
    except NotFound:
        return missing(caller, SLUG)
    return Redirect(where, status_code=303)


@post("/webhooks/{webhook_id:str}/enabled", status_code=303)
async def switch_webhook(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    async def change(account: str, form: dict[str, str]) -> str:
        enabled = form.get("enabled") == "true"
        await services.webhooks.update(account, webhook_id, WebhookChanges(enabled=enabled))
        back = "/ui/webhooks" if form.get("from") == "list" else f"/ui/webhooks/{webhook_id}"
        return f"{back}?done={'enabled' if enabled else 'disabled'}"

    return await changed(request, services, UPDATE, change)


@post("/webhooks/{webhook_id:str}/delete", status_code=303)
async def delete_webhook(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    async def change(account: str, form: dict[str, str]) -> str:
        await services.webhooks.delete(account, webhook_id)
        return "/ui/webhooks?done=deleted"

    return await changed(request, services, DELETE, change)


@post("/webhooks/{webhook_id:str}/test", status_code=303)
async def send_test(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    async def change(account: str, form: dict[str, str]) -> str:
        await services.webhooks.send_test(account, webhook_id)
        return f"/ui/webhooks/{webhook_id}?done=test"

    return await changed(request, services, UPDATE, change)


@post("/webhooks/{webhook_id:str}/rotate", status_code=200)
async def rotate_secret(
    request: AnyRequest, services: NamedDependency[Services], webhook_id: FromPath[str]
) -> Any:
    """The new secret is in this answer only (never stored where a page could show it)."""
    checked = await poster(request, services, SLUG, UPDATE)
    if not isinstance(checked, tuple):
        return checked
    caller, _ = checked
    try:
        rotated = await services.webhooks.rotate(caller.principal.account_id, webhook_id)
    except NotFound:
        return missing(caller, SLUG)
    done = "A new signing secret: the old one no longer signs."
    return await webhook_page(
        request, services, caller, webhook_id, secret=rotated.signing_secret, done=done
    )


# -- one delivery --------------------------------------------------------------------------


@get("/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}")
async def delivery(
    request: AnyRequest,
    services: NamedDependency[Services],
    webhook_id: FromPath[str],
    delivery_id: FromPath[str],
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    done = DONE.get(request.query_params.get("done", ""), "")
    return await delivery_page(services, caller, webhook_id, delivery_id, done=done)


async def delivery_page(
    services: Services,
    caller: UiCaller,
    webhook_id: str,
    delivery_id: str,
    status: int = 200,
    error: str = "",
    done: str = "",
) -> Any:
    account = caller.principal.account_id
    try:
        hook = await services.webhooks.get(account, webhook_id)
        found: DeliveryDetail = await services.webhooks.delivery(account, webhook_id, delivery_id)
    except NotFound:
        return missing(caller, SLUG)
    return page(
        "webhook_delivery.html",
        caller,
        status,
        title=f"Delivery {found.id}",
        current=SLUG,
        hook=hook,
        delivery=found,
        row=delivery_row(found),
        next_attempt=when(found.next_attempt_at),
        body=bounded(found.payload),
        error=error,
        done=done,
        can=abilities(caller),
    )


@post("/webhooks/{webhook_id:str}/deliveries/{delivery_id:str}/redeliver", status_code=303)
async def redeliver(
    request: AnyRequest,
    services: NamedDependency[Services],
    webhook_id: FromPath[str],
    delivery_id: FromPath[str],
) -> Any:
    checked = await poster(request, services, SLUG, UPDATE)
    if not isinstance(checked, tuple):
        return checked
    caller, _ = checked
    try:
        await services.webhooks.redeliver(caller.principal.account_id, webhook_id, delivery_id)
    except NotFound:
        return missing(caller, SLUG)
    except Conflict as exc:
        return await delivery_page(services, caller, webhook_id, delivery_id, 409, exc.message)
    where = f"/ui/webhooks/{webhook_id}/deliveries/{delivery_id}?done=redeliver"
    return Redirect(where, status_code=303)


HANDLERS = [
    webhooks,
    add_webhook,
    webhook,
    change_webhook,
    switch_webhook,
    delete_webhook,
    rotate_secret,
    send_test,
    delivery,
    redeliver,
]
