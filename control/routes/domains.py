"""`/api/admin/domains`: create, list, get and verify sender domains (JWT only: the group's
`ADMIN` principal)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.auth import ADMIN
from control.routes.common import read_body
from control.schemas.bodies import DomainCreate
from control.services import Services
from mta.services.domains import DomainView
from mta.services.identity import Principal


@post("/api/admin/domains", status_code=201)
async def create_domain(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DomainView:
    body = await read_body(request, DomainCreate)
    return await services.domains.create(
        principal.account_id, body.domain, body.dmarc_policy, body.dmarc_rua_email
    )


@get("/api/admin/domains")
async def list_domains(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[DomainView]:
    return await services.domains.list(principal.account_id)


@get("/api/admin/domains/{domain_id:str}")
async def get_domain(
    domain_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DomainView:
    return await services.domains.get(principal.account_id, domain_id)


@post("/api/admin/domains/{domain_id:str}/verify", status_code=200)
async def verify_domain(
    domain_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> DomainView:
    return await services.domains.verify(principal.account_id, domain_id)


ROUTER = Router(
    "/", dependencies=ADMIN, route_handlers=[create_domain, list_domains, get_domain, verify_domain]
)
