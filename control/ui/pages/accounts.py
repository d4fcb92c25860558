"""The operator's Accounts page: every account on the instance, a page at a time, and the
switch into one (a cookie naming it; the pages then act as that account's admin)."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from control.services import Services
from control.ui.caller import ACCOUNT_COOKIE, UiCaller
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, page, poster, ui_cookie, viewer
from mta.core.errors import NotFound
from mta.services.users import SESSION_SECONDS

SLUG = "accounts"


@get("/accounts")
async def accounts(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await account_list(request, services, caller)


async def account_list(
    request: AnyRequest, services: Services, caller: UiCaller, status: int = 200, error: str = ""
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    rows = await services.accounts.list(limit=paging.fetch, offset=paging.offset)
    listed = shown(rows, paging, query)
    return page("accounts.html", caller, status, accounts=listed, error=error, current=SLUG)


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


HANDLERS = [accounts, switch_account]
