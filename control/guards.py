"""Route guards: what a caller may do, declared on the route group and checked before the
handler runs. `/v3` handlers name their scope in `opt={"scope": ...}`, which `require_scope`
(the guard of the whole `/v3` group) checks; `/api/admin/queue` wants the operator's JWT
or an account admin's (who sees only the account's own mail)."""

from __future__ import annotations

from litestar.enums import HttpMethod
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers.base import BaseRouteHandler

from control.auth import AnyConnection, admin_caller, caller, refuse_operator, services_of
from mta.core.errors import PermissionDenied
from mta.services.identity import Principal

# A handler's `opt` key: the scope it needs; a tuple when any one of several will do (the
# refusal names the first); None when any authenticated caller may call it.
SCOPE = "scope"
Declared = str | tuple[str, ...] | None


def is_preflight(handler: BaseRouteHandler) -> bool:
    """Litestar's own OPTIONS handler, which inherits its group's guards and says only Allow."""
    return set(getattr(handler, "http_methods", ())) == {HttpMethod.OPTIONS}


def declared_scope(handler: BaseRouteHandler) -> Declared:
    if SCOPE not in handler.opt:  # refused, not let through, when someone forgets
        raise ImproperlyConfiguredException(f"{handler.handler_name} declares no scope")
    declared: Declared = handler.opt[SCOPE]
    return declared


def check_scope(principal: Principal, declared: Declared) -> None:
    """Refuse (403) a caller holding none of the declared scopes, as Principal.require does."""
    if declared is None:
        return
    names = (declared,) if isinstance(declared, str) else declared
    if not any(principal.has_scope(name) for name in names):
        principal.require(names[0])


async def require_scope(connection: AnyConnection, handler: BaseRouteHandler) -> None:
    """The `/v3` guard: an authenticated caller (else 401) holding the handler's scope (403)."""
    if is_preflight(handler):
        return
    declared = declared_scope(handler)
    check_scope(refuse_operator(await caller(connection, services_of(connection))), declared)


async def operator_only(connection: AnyConnection, handler: BaseRouteHandler) -> None:
    """The accounts API's guard: the operator's token (401 without credentials, 403 else)."""
    if is_preflight(handler):
        return
    if not (await caller(connection, services_of(connection))).is_operator:
        raise PermissionDenied("access forbidden: only the operator manages accounts")


def queue_admin(connection: AnyConnection, handler: BaseRouteHandler) -> None:
    """The queue's guard: the operator's or an account admin's JWT; a member's is refused."""
    if is_preflight(handler):
        return
    if admin_caller(connection, services_of(connection)).role not in ("operator", "admin"):
        raise PermissionDenied(
            "the queue is for operators and account admins: an admin-role token is needed"
        )
