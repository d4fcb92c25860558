"""Authentication for HTTP: `Authorization: Bearer <JWT | API key>` into a Principal.

`/api/admin/*` takes only JWTs (`ADMIN`); `/v3/*` takes either, resolved once per request
(by control.edge, else by the first to ask); control.guards decides what the caller may do.
"""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any, cast

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide

from control.services import Services
from mta.core.errors import AuthenticationError, NotFound, PermissionDenied
from mta.services.identity import INVALID_GRANT, Principal

PRINCIPAL_STATE = "scaisend.principal"
SESSION_COOKIE = "scaisend_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_ENDED_HELP = "the session has ended (signed out, expired or revoked): sign in again"
CSRF_REFUSED = "access forbidden: a change needs the session's CSRF token in X-CSRF-Token"
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


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a request may authenticate with: the Authorization header, or without it a
    session cookie (whose changes carry its CSRF token); and an operator's on-behalf-of."""

    authorization: str = ""
    on_behalf_of: str = ""
    session: str = ""
    csrf: str = ""
    method: str = "GET"


def credentials(get: Callable[[str], str], method: str) -> Credentials:
    """The credentials among a request's headers (`get(name)`: the value, or "")."""
    cookies = SimpleCookie()
    with contextlib.suppress(CookieError):
        cookies.load(get("cookie"))
    found = cookies.get(SESSION_COOKIE)
    return Credentials(
        authorization=get("authorization"),
        on_behalf_of=get(ON_BEHALF_OF.decode()),
        session=found.value if found is not None else "",
        csrf=get(CSRF_HEADER),
        method=method.upper(),
    )


async def authenticate(services: Services, given: Credentials) -> Principal:
    """The caller the credentials name (AuthenticationError if none), or the account an
    operator acts for (`on-behalf-of`); a disabled account's is refused."""
    if given.session and not given.authorization.strip():
        principal = await signed_in(services, given)
    else:
        token = bearer_token(given.authorization)
        if looks_like_jwt(token):
            principal = services.tokens.verify(token)
        else:
            principal = await services.api_keys.authenticate(token)
    if given.on_behalf_of:
        principal = await acting_for(services, principal, given.on_behalf_of)
    if not principal.is_operator:
        await services.accounts.require_enabled(principal.account_id)
    return principal


async def signed_in(services: Services, given: Credentials) -> Principal:
    """The user a session cookie names; a change (any method but GET, HEAD, OPTIONS) must
    carry the session's CSRF token in X-CSRF-Token."""
    found = await services.users.caller(given.session)
    if found is None:
        raise AuthenticationError(INVALID_GRANT, help=SESSION_ENDED_HELP)
    if given.method not in SAFE_METHODS and not hmac.compare_digest(
        given.csrf.encode(), found.csrf_token.encode()
    ):
        raise PermissionDenied(CSRF_REFUSED)
    return found.principal


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
        headers = connection.headers
        method = str(connection.scope.get("method", "GET"))
        given = credentials(lambda name: headers.get(name, ""), method)
        found = await authenticate(services, given)
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
