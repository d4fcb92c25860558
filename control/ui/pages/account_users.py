"""The operator's page of one account (`/ui/accounts/<name>`, part of the Accounts page): its
users, adding one with a generated password, removing one, resetting a password (a new
password is shown once), and the list of the instance's operators (`/ui/operators`)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, Form, page, poster, viewer
from mta.core.errors import NotFound, ScaiSendError
from mta.services.accounts import AccountView
from mta.services.users import UserView, generated_password

SLUG = "accounts"
ROLES = ("admin", "developer", "support")


class UserAdd(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A user the operator adds to an account: `scaisend user add`'s email and role."""

    email: str
    role: Literal["admin", "developer", "support"]


class Secret(msgspec.Struct, frozen=True):
    """A password shown once, in the answer to the post that made it."""

    email: str
    password: str
    what: str  # "added" or "reset"


def user_add_of(form: Form) -> UserAdd:
    return form_struct({k: (form.get(k) or "").strip() for k in ("email", "role")}, UserAdd)


async def account_page(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    account: AccountView,
    status: int = 200,
    **context: Any,
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    rows = await services.users.list(account.username, limit=paging.fetch, offset=paging.offset)
    context.setdefault("errors", {})
    context.setdefault("typed", {})
    return page(
        "account.html",
        caller,
        status,
        account=account,
        users=shown(rows, paging, query),
        roles=ROLES,
        title=account.username,
        current=SLUG,
        **context,
    )


async def member_of(services: Services, account: AccountView, email: str) -> UserView:
    """The user `email` of this account; NotFound for anyone else's (or an operator)."""
    found = await services.users.find(email) if email else None
    if found is None or found.account != account.username:
        raise NotFound(f"no user {email} in the account {account.username}")
    return found


@get("/accounts/{name:str}")
async def account(
    request: AnyRequest, services: NamedDependency[Services], name: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    found = await services.accounts.get(name)  # NotFound: the 404 page
    return await account_page(request, services, caller, found)


@post("/accounts/{name:str}/users")
async def add_user(
    request: AnyRequest, services: NamedDependency[Services], name: FromPath[str]
) -> Any:
    """A user with a generated password, shown in this answer only (as the CLI would set it,
    through the same UserService.add)."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    found = await services.accounts.get(name)
    password = generated_password()
    try:
        wanted = user_add_of(form)
        added = await services.users.add(found.username, wanted.email, wanted.role, password)
    except ScaiSendError as exc:
        typed = {k: form.get(k, "") for k in ("email", "role")}
        errors = field_errors(exc)
        return await account_page(request, services, caller, found, 400, errors=errors, typed=typed)
    secret = Secret(added.email, password, "added")
    return await account_page(request, services, caller, found, 201, secret=secret)


@post("/accounts/{name:str}/users/remove", status_code=303)
async def remove_user(
    request: AnyRequest, services: NamedDependency[Services], name: FromPath[str]
) -> Any:
    """The user and every session of theirs."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    _, form = posted
    found = await services.accounts.get(name)
    user = await member_of(services, found, form.get("email", ""))
    await services.users.remove(user.email)
    return Redirect(f"/ui/accounts/{found.username}", status_code=303)


@post("/accounts/{name:str}/users/password")
async def reset_password(
    request: AnyRequest, services: NamedDependency[Services], name: FromPath[str]
) -> Any:
    """A new generated password, shown once; the user's sessions end."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    found = await services.accounts.get(name)
    user = await member_of(services, found, form.get("email", ""))
    password = generated_password()
    await services.users.set_password(user.email, password)
    secret = Secret(user.email, password, "reset")
    return await account_page(request, services, caller, found, secret=secret)


@get("/operators")
async def operators(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    query = dict(request.query_params)
    paging = paging_of(query)
    rows = await services.users.list(operators=True, limit=paging.fetch, offset=paging.offset)
    listed = shown(rows, paging, query)
    return page("operators.html", caller, operators=listed, title="Operators", current=SLUG)


HANDLERS = [account, add_user, remove_user, reset_password, operators]
