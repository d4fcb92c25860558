"""Authentication for HTTP: `Authorization: Bearer <JWT | API key>` into a Principal.

`/api/admin/*` takes only JWTs (`ADMIN`); `/v3/*` takes either, resolved once per request
(by control.edge, else by the first to ask); control.guards decides what the caller may do.
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide

from control.services import Services
from mta.core.errors import AuthenticationError, NotFound, PermissionDenied
from mta.services.identity import INVALID_GRANT, Principal

PRINCIPAL_STATE = "scaisend.principal"
ON_BEHALF_OF = b"on-behalf-of"
SERVICES_STATE = "scaisend.services"  # the app's state: guards have no dependency injection
AnyConnection = ASGIConnection[Any, Any, Any, Any]


# 401 `help`: which case it is; the `message` stays SendGrid's (INVALID_GRANT).
NO_HEADER_HELP = "no Authorization header: send `Authorization: Bearer <API key or token>`"
NOT_BEARER_HELP = (
    "the Authorization header is not `Bearer <credential>`: send "
    "`Authorization: Bearer <API key or token>`"
)


def bearer_token(header: str) -> str:
    if not header.strip():
        raise AuthenticationError(INVALID_GRANT, help=NO_HEADER_HELP)
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(INVALID_GRANT, help=NOT_BEARER_HELP)
    return token.strip()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


async def authenticate(services: Services, header: str, on_behalf_of: str = "") -> Principal:
    """The caller named by an Authorization header value (AuthenticationError if none), or
    the account an operator acts for (`on-behalf-of`); a disabled account's is refused."""
    token = bearer_token(header)
    if looks_like_jwt(token):
        principal = services.tokens.verify(token)
    else:
        principal = await services.api_keys.authenticate(token)
    if on_behalf_of:
        principal = await acting_for(services, principal, on_behalf_of)
    if not principal.is_operator:
        await services.accounts.require_enabled(principal.account_id)
    return principal


async def acting_for(services: Services, principal: Principal, name: str) -> Principal:
    """The operator acting as an account's admin (SendGrid's `on-behalf-of`, by username)."""
    if not principal.is_operator:
        raise PermissionDenied(
            "access forbidden: only the operator may act on behalf of an account"
        )
    try:
        account = await services.accounts.get(name)
    except NotFound:
        raise PermissionDenied(
            f"access forbidden: on-behalf-of names no account ({name})"
        ) from None
    return Principal(
        account_id=account.id, kind="jwt", subject=f"{principal.subject} as {name}", role="admin"
    )


def bucket_key(principal: Principal) -> str:
    """Whose rate-limit budget a request spends: the key's, or the JWT subject's."""
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}"
    return f"{principal.kind}:{principal.account_id}:{principal.subject}"


def services_of(connection: AnyConnection) -> Services:
    return cast(Services, connection.app.state[SERVICES_STATE])


async def caller(connection: AnyConnection, services: Services) -> Principal:
    """The `/v3` caller: control.edge's outcome when it ran, else authenticated now; either
    way kept in the scope state, so a request is authenticated once."""
    state: dict[str, Any] = connection.scope.setdefault("state", {})
    found = state.get(PRINCIPAL_STATE)
    if isinstance(found, Principal):
        return found
    if isinstance(found, Exception):
        raise found
    try:
        found = await authenticate(
            services,
            connection.headers.get("authorization", ""),
            connection.headers.get(ON_BEHALF_OF.decode(), ""),
        )
    except Exception as exc:
        state[PRINCIPAL_STATE] = exc
        raise
    state[PRINCIPAL_STATE] = found
    return found


def admin_caller(connection: AnyConnection, services: Services) -> Principal:
    """The `/api/admin` caller: a JWT (401 if bad or missing), never an API key (403)."""
    token = bearer_token(connection.headers.get("authorization", ""))
    if not looks_like_jwt(token):
        raise PermissionDenied("admin endpoints need a JWT (scaisend token), not an API key")
    return services.tokens.verify(token)


async def provide_principal(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Principal:
    return await caller(request, services)


def refuse_operator(principal: Principal) -> Principal:
    """An account's routes refuse the operator's token (403): it belongs to no account."""
    if principal.is_operator:
        raise PermissionDenied(
            "an operator token belongs to no account: use a token or an API key of the account"
        )
    return principal


async def provide_admin(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Principal:
    principal = refuse_operator(admin_caller(request, services))
    await services.accounts.require_enabled(principal.account_id)
    return principal


async def provide_queue_account(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> str | None:
    """Whose queue the caller sees: every account's for the operator, else its own."""
    principal = admin_caller(request, services)
    if principal.is_operator:
        return None
    await services.accounts.require_enabled(principal.account_id)
    return principal.account_id


# `principal` on an `/api/admin` route group: the caller, who must come with an account's JWT.
ADMIN = {"principal": Provide(provide_admin)}
# `account` on the queue's routes: None for the operator (the whole queue).
QUEUE = {"account": Provide(provide_queue_account)}
