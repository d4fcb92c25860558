"""`/v3/suppression/*`: SendGrid's bounces, blocks, invalid_emails and spam_reports lists (list,
get, delete), the global unsubscribes list, and ours: `/v3/suppression/why/{email}`."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from control.routes.common import read_body
from control.schemas.suppressions import DeleteEntries
from control.services import Services
from mta.services.identity import Principal
from mta.services.suppressions import (
    Entry,
    ListName,
    Why,
    page_bounds,
    time_bound,
)

AnyRequest = Request[Any, Any, Any]
EDITABLE: tuple[ListName, ...] = ("bounces", "blocks", "invalid_emails", "spam_reports")


async def _list(
    name: ListName, request: AnyRequest, services: Services, principal: Principal
) -> list[Entry]:
    query = request.query_params
    limit, offset = page_bounds(query.get("limit"), query.get("offset"))
    return await services.suppressions.list_entries(
        principal.account_id,
        name,
        time_bound(query.get("start_time"), "start_time"),
        time_bound(query.get("end_time"), "end_time"),
        limit,
        offset,
        query.get("email"),
    )


def list_routes(name: ListName) -> list[HTTPRouteHandler]:
    """The four routes of one list: GET and DELETE, on the list and on one address."""
    path = f"/v3/suppression/{name}"
    reads = {"scope": f"suppression.{name}.read"}
    deletes = {"scope": f"suppression.{name}.delete"}

    @get(path, name=f"{name}-list", opt=reads)
    async def list_entries(
        request: AnyRequest,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
    ) -> list[Entry]:
        return await _list(name, request, services, principal)

    @get(path + "/{email:str}", name=f"{name}-get", opt=reads)
    async def get_entry(
        email: FromPath[str],
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
    ) -> list[Entry]:
        return await services.suppressions.get_entry(principal.account_id, name, email)

    @delete(path + "/{email:str}", status_code=204, name=f"{name}-delete-one", opt=deletes)
    async def delete_entry(
        email: FromPath[str],
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
    ) -> None:
        await services.suppressions.delete_entry(principal.account_id, name, email)

    @delete(path, status_code=204, name=f"{name}-delete", opt=deletes)
    async def delete_entries(
        request: AnyRequest,
        services: NamedDependency[Services],
        principal: NamedDependency[Principal],
    ) -> None:
        body = await read_body(request, DeleteEntries)
        await services.suppressions.delete_entries(
            principal.account_id, name, body.emails, body.delete_all
        )

    return [list_entries, get_entry, delete_entry, delete_entries]


@get("/v3/suppression/unsubscribes", opt={"scope": "suppression.unsubscribes.read"})
async def list_unsubscribes(
    request: AnyRequest, services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[Entry]:
    return await _list("unsubscribes", request, services, principal)


@get("/v3/suppression/why/{email:str}", opt={"scope": "suppression.read"})
async def why(
    email: FromPath[str], services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> list[Why]:
    """Ours: every entry for the address with the event that caused it (or "api")."""
    return await services.suppressions.why(principal.account_id, email)


ROUTES = [handler for name in EDITABLE for handler in list_routes(name)] + [
    list_unsubscribes,
    why,
]
