"""`/v3/asm/*`: SendGrid's unsubscribe groups, their suppressions, and the global
unsubscribes as the ASM API adds, reads and removes them."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.routes.common import read_body
from control.schemas.suppressions import (
    GlobalStatus,
    GroupCreate,
    GroupStatuses,
    GroupUpdate,
    RecipientEmails,
)
from control.services import Services
from mta.services.asm_groups import Group, GroupSuppression, group_id_of, parse_id
from mta.services.identity import Principal

AnyRequest = Request[Any, Any, Any]
GLOBAL = "/v3/asm/suppressions/global"
GROUP = "/v3/asm/groups/{group_id:str}"


@post(GLOBAL, status_code=201, opt={"scope": "asm.suppressions.global.create"})
async def add_global(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> RecipientEmails:
    body = await read_body(request, RecipientEmails)
    added = await services.suppressions.add_global(principal.account_id, body.recipient_emails)
    return RecipientEmails(recipient_emails=added)


@get(GLOBAL + "/{email:str}", opt={"scope": "asm.suppressions.global.read"})
async def get_global(
    email: FromPath[str], services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> GlobalStatus:
    found = await services.suppressions.is_global(principal.account_id, email)
    return GlobalStatus(recipient_email=email.lower() if found else None)


@delete(GLOBAL + "/{email:str}", status_code=204, opt={"scope": "asm.suppressions.global.delete"})
async def delete_global(
    email: FromPath[str], services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> None:
    await services.suppressions.delete_entry(principal.account_id, "unsubscribes", email)


@post("/v3/asm/groups", status_code=201, opt={"scope": "asm.groups.create"})
async def create_group(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> Group:
    body = await read_body(request, GroupCreate)
    return await services.asm_groups.create(
        principal.account_id, body.name, body.description, body.is_default
    )


@get("/v3/asm/groups", opt={"scope": "asm.groups.read"})
async def list_groups(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[Group]:
    """`?id=1&id=2` narrows the list to those groups, as SendGrid's."""
    found = (parse_id(i) for i in request.query_params.getall("id", []))
    ids = [i for i in found if i is not None]
    return await services.asm_groups.list_groups(principal.account_id, ids)


@get(GROUP, opt={"scope": "asm.groups.read"})
async def get_group(
    group_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> Group:
    return await services.asm_groups.get(principal.account_id, group_id_of(group_id))


@patch(GROUP, status_code=201, opt={"scope": "asm.groups.update"})
async def update_group(
    group_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> Group:
    body = await read_body(request, GroupUpdate)
    return await services.asm_groups.update(
        principal.account_id, group_id_of(group_id), body.name, body.description, body.is_default
    )


@delete(GROUP, status_code=204, opt={"scope": "asm.groups.delete"})
async def delete_group(
    group_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.asm_groups.delete(principal.account_id, group_id_of(group_id))


@post(GROUP + "/suppressions", status_code=201, opt={"scope": "asm.groups.suppressions.create"})
async def add_group_suppressions(
    group_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> RecipientEmails:
    body = await read_body(request, RecipientEmails)
    added = await services.asm_groups.add_suppressions(
        principal.account_id, group_id_of(group_id), body.recipient_emails
    )
    return RecipientEmails(recipient_emails=added)


@get(GROUP + "/suppressions", opt={"scope": "asm.groups.suppressions.read"})
async def list_group_suppressions(
    group_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> list[str]:
    return await services.asm_groups.suppressed(principal.account_id, group_id_of(group_id))


@post(
    GROUP + "/suppressions/search", status_code=200, opt={"scope": "asm.groups.suppressions.read"}
)
async def search_group_suppressions(
    group_id: FromPath[str],
    request: AnyRequest,
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> list[str]:
    body = await read_body(request, RecipientEmails)
    return await services.asm_groups.suppressed(
        principal.account_id, group_id_of(group_id), body.recipient_emails
    )


@delete(
    GROUP + "/suppressions/{email:str}",
    status_code=204,
    opt={"scope": "asm.groups.suppressions.delete"},
)
async def delete_group_suppression(
    group_id: FromPath[str],
    email: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.asm_groups.remove_suppression(principal.account_id, group_id_of(group_id), email)


@get("/v3/asm/suppressions", opt={"scope": "asm.groups.suppressions.read"})
async def all_group_suppressions(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[GroupSuppression]:
    return await services.asm_groups.all_suppressions(principal.account_id)


@get("/v3/asm/suppressions/{email:str}", opt={"scope": "asm.groups.suppressions.read"})
async def groups_for_email(
    email: FromPath[str], services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> GroupStatuses:
    found = await services.asm_groups.groups_for(principal.account_id, email)
    return GroupStatuses(suppressions=found)


ROUTES = [
    add_global,
    get_global,
    delete_global,
    create_group,
    list_groups,
    get_group,
    update_group,
    delete_group,
    add_group_suppressions,
    list_group_suppressions,
    search_group_suppressions,
    delete_group_suppression,
    all_group_suppressions,
    groups_for_email,
]
