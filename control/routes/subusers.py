"""`/v3/subusers`: the operator's accounts API in SendGrid's subuser shape: create, list (or
find by `username`), get, disable or enable (`PATCH {"disabled": …}`) and delete. Only the
operator's token may call it (`operator_only`); an account's credentials get 403. A
`password` at create makes the account's first admin user with the subuser's email."""

from __future__ import annotations

import contextlib
from typing import Any

from litestar import Request, Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from control.guards import operator_only
from control.routes.common import read_body
from control.schemas.bodies import SubuserCreate, SubuserUpdate
from control.services import Services
from mta.core.addresses import check_email
from mta.core.errors import Conflict, NotFound
from mta.services.accounts import AccountView
from mta.services.users import check_password


def _public(account: AccountView) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "email": account.email,
        "disabled": account.disabled,
    }


@post("/v3/subusers", status_code=201)
async def create_subuser(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    """The account; with `password`, also its first admin, who signs in with the subuser's
    email and that password (as a SendGrid subuser logs in to the console)."""
    created = await create_account(services, await read_body(request, SubuserCreate))
    return {"username": created.username, "user_id": created.id, "email": created.email}


async def create_account(services: Services, body: SubuserCreate) -> AccountView:
    """`body`'s account (and its first admin with `password`), checked before anything is
    made; the API and the dashboard's Accounts page both create accounts here."""
    email = check_email(body.email, "email").lower()
    if body.password is not None:
        check_password(body.password)  # before anything is made
        await services.users.require_free(email)
    created = await services.accounts.create(body.username, email)
    if body.password is not None:
        try:
            await services.users.add(created.username, email, "admin", body.password)
        except Conflict:  # the email was taken meanwhile: leave no account without its admin
            await services.accounts.delete(created.username)
            raise
    return created


@get("/v3/subusers")
async def list_subusers(
    services: NamedDependency[Services],
    username: FromQuery[str | None] = None,
    limit: FromQuery[int] = 100,
) -> list[dict[str, Any]]:
    return [_public(a) for a in await services.accounts.list(username, limit)]


@get("/v3/subusers/{subuser_name:str}")
async def get_subuser(
    subuser_name: FromPath[str], services: NamedDependency[Services]
) -> dict[str, Any]:
    return _public(await services.accounts.get(subuser_name))


@patch("/v3/subusers/{subuser_name:str}", status_code=204)
async def update_subuser(
    subuser_name: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
) -> None:
    body = await read_body(request, SubuserUpdate)
    await services.accounts.set_disabled(subuser_name, body.disabled)


@delete("/v3/subusers/{subuser_name:str}", status_code=204)
async def delete_subuser(subuser_name: FromPath[str], services: NamedDependency[Services]) -> None:
    """The account, everything it owns, and its mail still in the queue: disabled first, so
    none of it starts out meanwhile (a message being delivered at that moment finishes)."""
    account = await services.accounts.set_disabled(subuser_name, True)
    tried: set[str] = set()
    while found := [
        q for q in await services.queue.list(account.id, limit=1000) if q.queue_id not in tried
    ]:
        for queued in found:
            tried.add(queued.queue_id)
            with contextlib.suppress(Conflict, NotFound):  # being delivered, or just done
                await services.queue.delete(account.id, queued.queue_id)
    await services.accounts.delete(subuser_name)


ROUTER = Router(
    "/",
    guards=[operator_only],
    route_handlers=[create_subuser, list_subusers, get_subuser, update_subuser, delete_subuser],
)
