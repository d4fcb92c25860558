"""Authentication for HTTP: `Authorization: Bearer <JWT | API key>` into a Principal.

`/api/admin/*` takes only JWTs; `/v3/*` takes either (resolved once, by control.edge), and
each route names its scope with `principal.require(...)`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from control.services import Services
from mta.core.errors import AuthenticationError, PermissionDenied
from mta.services.api_keys import INVALID_GRANT
from mta.services.identity import Principal

PRINCIPAL_STATE = "scaisend.principal"


def bearer_token(header: str) -> str:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(INVALID_GRANT)
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


async def provide_principal(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Principal:
    found = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if isinstance(found, Principal):
        return found
    if isinstance(found, Exception):
        raise found
    return await authenticate(services, request.headers.get("authorization", ""))


async def provide_admin(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Principal:
    token = bearer_token(request.headers.get("authorization", ""))
    if not looks_like_jwt(token):
        raise PermissionDenied("admin endpoints need a JWT (scaisend token), not an API key")
    return services.tokens.verify(token)
