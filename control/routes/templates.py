"""`/v3/templates`: transactional templates and their versions, as SendGrid's API, each route
behind SendGrid's scope (templates.*, templates.versions.*, templates.versions.activate.*)."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.routes.common import read_body
from control.schemas.bodies import TemplateCreate, TemplateDuplicate, TemplateRename, VersionBody
from control.schemas.templates import TemplateList, template_list, version_fields
from control.services import Services
from mta.services.identity import Principal
from mta.services.template_views import (
    TemplateView,
    VersionView,
    page_offset,
    parse_generations,
    parse_page_size,
)

AnyRequest = Request[Any, Any, Any]
TEMPLATE = "/v3/templates/{template_id:str}"
VERSION = TEMPLATE + "/versions/{version_id:str}"


@post("/v3/templates", status_code=201, opt={"scope": "templates.create"})
async def create_template(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> TemplateView:
    body = await read_body(request, TemplateCreate)
    return await services.templates.create(
        principal.account_id, body.name, body.generation, body.id
    )


@get("/v3/templates", opt={"scope": "templates.read"})
async def list_templates(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> TemplateList:
    query = request.query_params
    generations = parse_generations(query.get("generations"))
    size = parse_page_size(query.get("page_size"))
    page = await services.templates.list_page(
        principal.account_id, generations, size, page_offset(query.get("page_token"))
    )
    return template_list(page, str(request.base_url).rstrip("/"), generations, size)


@get(TEMPLATE, opt={"scope": "templates.read"})
async def get_template(
    template_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> TemplateView:
    return await services.templates.get(principal.account_id, template_id)


@patch(TEMPLATE, opt={"scope": "templates.update"})
async def rename_template(
    template_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> TemplateView:
    body = await read_body(request, TemplateRename)
    return await services.templates.rename(principal.account_id, template_id, body.name)


@delete(TEMPLATE, status_code=204, opt={"scope": "templates.delete"})
async def delete_template(
    template_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.templates.delete(principal.account_id, template_id)


@post(TEMPLATE, status_code=201, opt={"scope": "templates.create"})
async def duplicate_template(
    template_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> TemplateView:
    body = await read_body(request, TemplateDuplicate)
    return await services.templates.duplicate(principal.account_id, template_id, body.name)


@post(TEMPLATE + "/versions", status_code=201, opt={"scope": "templates.versions.create"})
async def create_version(
    template_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> VersionView:
    fields = version_fields(await read_body(request, VersionBody), creating=True)
    return await services.templates.add_version(principal.account_id, template_id, fields)


@get(VERSION, opt={"scope": "templates.versions.read"})
async def get_version(
    template_id: FromPath[str],
    version_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> VersionView:
    return await services.templates.get_version(principal.account_id, template_id, version_id)


@patch(VERSION, opt={"scope": "templates.versions.update"})
async def update_version(
    template_id: FromPath[str],
    version_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> VersionView:
    fields = version_fields(await read_body(request, VersionBody), creating=False)
    return await services.templates.update_version(
        principal.account_id, template_id, version_id, fields
    )


@delete(VERSION, status_code=204, opt={"scope": "templates.versions.delete"})
async def delete_version(
    template_id: FromPath[str],
    version_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.templates.delete_version(principal.account_id, template_id, version_id)


@post(VERSION + "/activate", status_code=200, opt={"scope": "templates.versions.activate.create"})
async def activate_version(
    template_id: FromPath[str],
    version_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> VersionView:
    return await services.templates.activate(principal.account_id, template_id, version_id)


ROUTES = [
    create_template,
    list_templates,
    get_template,
    rename_template,
    delete_template,
    duplicate_template,
    create_version,
    get_version,
    update_version,
    delete_version,
    activate_version,
]
