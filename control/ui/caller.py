"""Who is looking at a dashboard page: the user a session cookie names (control/auth's and
mta/services/users' sessions), and the account the pages show: a member's own, or the one
an operator switched into, acting as that account's admin as `on-behalf-of` does."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from control.auth import SESSION_COOKIE, acting_for
from control.services import Services
from mta.core.errors import PermissionDenied
from mta.services.identity import Principal
from mta.services.users import UserView

ACCOUNT_COOKIE = "scaisend_ui_account"  # the operator's chosen account; members' is ignored


class UiCaller(msgspec.Struct, frozen=True):
    user: UserView
    csrf_token: str
    principal: Principal  # whose rights the pages use: the member's, or the operator acting
    account: str | None  # the account shown; None for an operator who has chosen none

    @property
    def is_operator(self) -> bool:
        return self.user.role == "operator"


async def ui_caller(request: Request[Any, Any, Any], services: Services) -> UiCaller | None:
    """The signed-in caller, or None (no session, or it ended: sign in again)."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    found = await services.users.caller(cookie) if cookie else None
    if found is None:
        return None
    if not found.principal.is_operator:
        await services.accounts.require_enabled(found.principal.account_id)
        return UiCaller(found.user, found.csrf_token, found.principal, found.user.account)
    chosen = request.cookies.get(ACCOUNT_COOKIE, "")
    if chosen:
        try:
            acting = await acting_for(services, found.principal, chosen)
            return UiCaller(found.user, found.csrf_token, acting, chosen)
        except PermissionDenied:  # the account was deleted since: choose again
            pass
    return UiCaller(found.user, found.csrf_token, found.principal, None)
