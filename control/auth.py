"""Authentication for HTTP: `Authorization: Bearer <JWT | API key>` into a Principal.

`/api/admin/*` takes only JWTs; `/v3/*` takes either, and each route names its scope.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from mta.errors import AuthenticationError, PermissionDenied
from mta.services.api_keys import INVALID_GRANT
from mta.services.container import Services
from mta.services.identity import Principal


def bearer_token(request: Request[Any, Any, Any]) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(INVALID_GRANT)
    return token.strip()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


async def provide_principal(request: Request[Any, Any, Any], services: Services) -> Principal:
    token = bearer_token(request)
    if looks_like_jwt(token):
        return services.tokens.verify(token)
    return await services.api_keys.authenticate(token)


async def provide_admin(request: Request[Any, Any, Any], services: Services) -> Principal:
    token = bearer_token(request)
    if not looks_like_jwt(token):
        raise PermissionDenied("admin endpoints need a JWT (scaisend token), not an API key")
    return services.tokens.verify(token)
