"""`/v3/templates`: create and read templates, add versions."""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post

from control.routes.common import read_body
from control.schemas.bodies import TemplateCreate, VersionCreate
from mta.services.container import Services
from mta.services.identity import Principal
from mta.services.templates import TemplateView, VersionView


@post("/v3/templates", status_code=201)
async def create_template(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> TemplateView:
    principal.require("templates.create")
    body = await read_body(request, TemplateCreate)
    return await services.templates.create(
        principal.account_id, body.name, body.generation, body.id
    )


@get("/v3/templates/{template_id:str}")
async def get_template(template_id: str, services: Services, principal: Principal) -> TemplateView:
    principal.require("templates.read")
    return await services.templates.get(principal.account_id, template_id)


@post("/v3/templates/{template_id:str}/versions", status_code=201)
async def create_version(
    template_id: str, request: Request[Any, Any, Any], services: Services, principal: Principal
) -> VersionView:
    principal.require("templates.versions.create")
    body = await read_body(request, VersionCreate)
    return await services.templates.add_version(
        principal.account_id,
        template_id,
        name=body.name,
        subject=body.subject,
        html_content=body.html_content,
        plain_content=body.plain_content,
        active=None if body.active is None else bool(body.active),
    )


ROUTES = [create_template, get_template, create_version]
