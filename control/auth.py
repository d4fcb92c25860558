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
from mta.core.errors import AuthenticationError, PermissionDenied
from mta.services.identity import INVALID_GRANT, Principal

PRINCIPAL_STATE = "scaisend.principal"
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


async def authenticate(services: Services, header: str) -> Principal:
    """The caller named by an Authorization header value (AuthenticationError if none)."""
    token = bearer_token(header)
    if looks_like_jwt(token):
        return services.tokens.verify(token)
    return await services.api_keys.authenticate(token)


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
        found = await authenticate(services, connection.headers.get("authorization", ""))
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


async def provide_admin(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Principal:
    return admin_caller(request, services)


# `principal` on an `/api/admin` route group: the caller, who must come with a JWT.
ADMIN = {"principal": Provide(provide_admin)}
