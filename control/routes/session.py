"""`/api/session`: sign in with email and password (a session cookie, HttpOnly, SameSite=Lax,
Secure over HTTPS, and the CSRF token every change must carry), see who is signed in, and
sign out. The cookie then authenticates `/v3` as the user's role allows."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency

from control.auth import SESSION_COOKIE, authenticate, credentials
from control.routes.common import read_body
from control.schemas.bodies import SignIn
from control.services import Services
from mta.core.errors import AuthenticationError
from mta.services.users import SESSION_SECONDS, UserView


def _user(view: UserView) -> dict[str, Any]:
    return msgspec.structs.asdict(view)  # email, role, account


def private_cookie(
    request: Request[Any, Any, Any],
    key: str,
    value: str,
    max_age: int,
    *,
    path: str,
    samesite: Literal["lax", "strict"],
) -> Cookie:
    """A cookie scripts cannot read (HttpOnly), sent back only over HTTPS when it came so."""
    return Cookie(
        key=key,
        value=value,
        path=path,
        max_age=max_age,
        httponly=True,
        samesite=samesite,
        secure=request.url.scheme == "https",
    )


def session_cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return private_cookie(request, SESSION_COOKIE, value, max_age, path="/", samesite="lax")


@post("/api/session", status_code=200)
async def sign_in(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[dict[str, Any]]:
    body = await read_body(request, SignIn)
    address = request.client.host if request.client else ""
    started = await services.users.sign_in(body.email, body.password, address)
    content = {
        "user": _user(started.user),
        "csrf_token": started.csrf_token,
        "expires_at": int(started.expires_at),
    }
    return Response(
        content, cookies=[session_cookie(request, started.cookie, int(SESSION_SECONDS))]
    )


@get("/api/session")
async def current_session(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> dict[str, Any]:
    found = await services.users.caller(request.cookies.get(SESSION_COOKIE, ""))
    if found is None:
        raise AuthenticationError("not signed in", help="sign in: POST /api/session")
    return {"user": _user(found.user), "csrf_token": found.csrf_token}


@delete("/api/session", status_code=204)
async def sign_out(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[None]:
    """Ends the session (the CSRF token is required, as for any change)."""
    given = credentials(lambda name: request.headers.get(name, ""), request.method)
    if not given.session:
        raise AuthenticationError("not signed in", help="sign in: POST /api/session")
    await authenticate(services, given)
    await services.users.sign_out(given.session)
    return Response(None, status_code=204, cookies=[session_cookie(request, "", 0)])


ROUTES = [sign_in, current_session, sign_out]
