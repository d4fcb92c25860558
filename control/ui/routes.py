"""The dashboard's routes under `/ui`: sign in and out, every page module's handlers
(control/ui/pages), the static files, a 404 page, and errors answered as pages rather than
the API's JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from control.auth import SESSION_COOKIE
from control.routes.session import session_cookie
from control.services import Services
from control.ui.caller import ACCOUNT_COOKIE, ui_caller
from control.ui.pages import (
    account_users,
    accounts,
    activity,
    api_keys,
    domains,
    members,
    overview,
    queue,
    suppressions,
    templates,
    webhooks,
)
from control.ui.rendering import SIGN_IN, AnyRequest, page, posted_form, ui_cookie
from control.ui.security import LOGIN_CSRF_COOKIE, new_token, same_token
from mta.core.errors import (
    AuthenticationError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ScaiSendError,
)
from mta.services.users import SESSION_SECONDS

UI_DIR = Path(__file__).resolve().parent
FORM_EXPIRED = "The form expired. Please try again."
PAGE_MODULES = [
    overview,
    activity,
    domains,
    api_keys,
    templates,
    suppressions,
    webhooks,
    queue,
    members,
    accounts,
    account_users,
]  # in the menu's order
STATUS_OF: dict[type[ScaiSendError], int] = {
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}


def sign_in_form(
    request: AnyRequest, error: str = "", status: int = 200, email: str = ""
) -> Template:
    """The form with a fresh double-submit token (cookie and hidden field)."""
    token = new_token()
    cookie = ui_cookie(request, LOGIN_CSRF_COOKIE, token, 3600)
    return page("sign_in.html", None, status, [cookie], csrf_token=token, error=error, email=email)


@get("/sign-in")
async def sign_in_page(request: AnyRequest) -> Template:
    return sign_in_form(request)


@post("/sign-in", status_code=303)
async def sign_in(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    form = await posted_form(request)
    email = form.get("email", "")
    if not same_token(form.get("csrf_token", ""), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return sign_in_form(request, FORM_EXPIRED, 403, email)
    address = request.client.host if request.client else ""
    try:
        started = await services.users.sign_in(email, form.get("password", ""), address)
    except RateLimited as exc:
        return sign_in_form(request, f"Too many failed sign-ins: {exc.message}.", 429, email)
    except AuthenticationError:
        return sign_in_form(request, "Wrong email or password.", 401, email)
    return Redirect(
        "/ui/",
        status_code=303,
        cookies=[
            session_cookie(request, started.cookie, int(SESSION_SECONDS)),
            ui_cookie(request, LOGIN_CSRF_COOKIE, "", 0),
            ui_cookie(request, ACCOUNT_COOKIE, "", 0),
        ],
    )


@post("/sign-out", status_code=303)
async def sign_out(request: AnyRequest, services: NamedDependency[Services]) -> Redirect:
    caller = await ui_caller(request, services)
    form = await posted_form(request)
    if caller is None or not same_token(form.get("csrf_token", ""), caller.csrf_token):
        return Redirect(SIGN_IN, status_code=303)
    await services.users.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    gone = [session_cookie(request, "", 0), ui_cookie(request, ACCOUNT_COOKIE, "", 0)]
    return Redirect(SIGN_IN, status_code=303, cookies=gone)


@get("/{slug:str}")
async def not_found(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    """A path under /ui/ that is no page: sign in first, then a 404 page with the menu."""
    caller = await ui_caller(request, services)
    if caller is None:
        return Redirect(SIGN_IN, status_code=303)
    return page("not_found.html", caller, 404, title="Not found")


def error_page(request: AnyRequest, exc: ScaiSendError) -> Any:
    """A service's refusal that reached the edge of a page, as a page rather than JSON: a
    member of a disabled account, a resource gone since the link was drawn."""
    if isinstance(exc, AuthenticationError):
        return Redirect(SIGN_IN, status_code=303)
    status = next((code for kind, code in STATUS_OF.items() if isinstance(exc, kind)), 400)
    return page("problem.html", None, status, title="Not possible", message=exc.message)


def ui_router() -> Router:
    static = create_static_files_router(
        "/static",
        directories=[UI_DIR / "static"],
        name="ui_static",
        cache_control=CacheControlHeader(public=True, max_age=3600),
        include_in_schema=False,
    )
    handlers = [h for module in PAGE_MODULES for h in module.HANDLERS]
    return Router(
        "/ui",
        route_handlers=[sign_in_page, sign_in, sign_out, *handlers, not_found, static],
        include_in_schema=False,
        exception_handlers={ScaiSendError: error_page},
    )
