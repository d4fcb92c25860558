"""The operator's Accounts page: every account on the instance, a page at a time, the switch
into one (a cookie naming it; the pages then act as that account's admin), and creating,
disabling and enabling accounts as `/v3/subusers` does (control/routes/subusers)."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.routes.subusers import create_account
from control.schemas.bodies import SubuserCreate, SubuserUpdate
from control.services import Services
from control.ui.caller import ACCOUNT_COOKIE, UiCaller
from control.ui.forms import field_errors, form_struct, optional
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, Form, page, poster, ui_cookie, viewer
from mta.core.errors import Conflict, NotFound, ScaiSendError
from mta.services.users import SESSION_SECONDS

SLUG = "accounts"
CREATE_FIELDS = ("username", "email")


@get("/accounts")
async def accounts(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await account_list(request, services, caller)


async def account_list(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    status: int = 200,
    error: str = "",
    errors: dict[str, str] | None = None,
    typed: Form | None = None,
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    rows = await services.accounts.list(limit=paging.fetch, offset=paging.offset)
    listed = shown(rows, paging, query, "/ui/accounts")
    return page(
        "accounts.html",
        caller,
        status,
        accounts=listed,
        error=error,
        errors=errors or {},
        typed=typed or {},
        current=SLUG,
    )


def creation_of(form: Form) -> SubuserCreate:
    """The form as the API's `POST /v3/subusers` body (no password: users are added on the
    account's page, each with a generated one)."""
    fields = {name: (form.get(name) or "").strip() for name in CREATE_FIELDS}
    return form_struct(fields, SubuserCreate)


@post("/accounts", status_code=303)
async def create(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    try:
        created = await create_account(services, creation_of(form))
    except ScaiSendError as exc:
        typed = {name: form.get(name, "") for name in CREATE_FIELDS}
        status = 409 if isinstance(exc, Conflict) else 400
        return await account_list(request, services, caller, status, "", field_errors(exc), typed)
    return Redirect(f"/ui/accounts/{created.username}", status_code=303)


@post("/accounts/{name:str}/state", status_code=303)
async def set_state(
    request: AnyRequest, services: NamedDependency[Services], name: FromPath[str]
) -> Any:
    """Disable or enable, as `PATCH /v3/subusers/{name}` with `{"disabled": …}`."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    try:
        change = form_struct({"disabled": optional(form.get("disabled"))}, SubuserUpdate)
        await services.accounts.set_disabled(name, change.disabled)
    except NotFound:
        return await account_list(request, services, caller, 404, f"No account {name}.")
    except ScaiSendError as exc:
        return await account_list(request, services, caller, 400, exc.message)
    back = form.get("back", "")
    return Redirect(back if back == f"/ui/accounts/{name}" else "/ui/accounts", status_code=303)


@post("/accounts/switch", status_code=303)
async def switch_account(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    name = form.get("account", "")
    try:
        await services.accounts.get(name)
    except NotFound:
        return await account_list(request, services, caller, 404, f"No account {name}.")
    chosen = ui_cookie(request, ACCOUNT_COOKIE, name, int(SESSION_SECONDS))
    return Redirect("/ui/", status_code=303, cookies=[chosen])


HANDLERS = [accounts, create, switch_account, set_state]
