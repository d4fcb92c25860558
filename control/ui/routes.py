"""The dashboard's routes under `/ui`: sign in and out, the Overview, the operator's account
switch, and a short "not built yet" page for the pages still to come. Handlers stay thin:
who is calling (control/ui/caller), a service call, a template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Router, get, post
from litestar.datastructures import CacheControlHeader, Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router

from control.auth import SESSION_COOKIE
from control.routes.session import private_cookie, session_cookie
from control.services import Services
from control.ui.caller import ACCOUNT_COOKIE, UiCaller, ui_caller
from control.ui.navigation import BY_SLUG, Page, allowed, menu
from control.ui.overview import account_overview, chart_markup
from control.ui.security import LOGIN_CSRF_COOKIE, new_token, same_token
from mta.core.errors import AuthenticationError, NotFound, RateLimited
from mta.services.users import SESSION_SECONDS

UI_DIR = Path(__file__).resolve().parent
SIGN_IN = "/ui/sign-in"
FORM_EXPIRED = "The form expired. Please try again."
AnyRequest = Request[Any, Any, Any]


def page(
    name: str,
    caller: UiCaller | None,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    nav = menu(caller) if caller is not None else []
    return Template(
        template_name=name,
        context={"caller": caller, "menu": nav, **context},
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
        cookies=cookies or [],
    )


def ui_cookie(request: AnyRequest, key: str, value: str, max_age: int) -> Cookie:
    return private_cookie(request, key, value, max_age, path="/ui", samesite="strict")


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
    form = await request.form()
    email = str(form.get("email", ""))
    if not same_token(str(form.get("csrf_token", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return sign_in_form(request, FORM_EXPIRED, 403, email)
    address = request.client.host if request.client else ""
    try:
        started = await services.users.sign_in(email, str(form.get("password", "")), address)
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


async def changing_caller(request: AnyRequest, services: Services) -> tuple[UiCaller, Any]:
    """The caller of a form post and the form, or AuthenticationError: no session, or the
    session's CSRF token missing from the form."""
    caller = await ui_caller(request, services)
    form = await request.form()
    if caller is None or not same_token(str(form.get("csrf_token", "")), caller.csrf_token):
        raise AuthenticationError("not signed in, or the form expired")
    return caller, form


@post("/sign-out", status_code=303)
async def sign_out(request: AnyRequest, services: NamedDependency[Services]) -> Redirect:
    try:
        await changing_caller(request, services)
    except AuthenticationError:
        return Redirect(SIGN_IN, status_code=303)
    await services.users.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    gone = [session_cookie(request, "", 0), ui_cookie(request, ACCOUNT_COOKIE, "", 0)]
    return Redirect(SIGN_IN, status_code=303, cookies=gone)


@get("/")
async def overview(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await ui_caller(request, services)
    if caller is None:
        return Redirect(SIGN_IN, status_code=303)
    if caller.account is None:
        return Redirect("/ui/accounts", status_code=303)
    if not allowed(BY_SLUG[""], caller):
        return page("not_allowed.html", caller, 403, title="Overview")
    metrics = await account_overview(services.stats, caller.principal.account_id)
    charts = {m.name: chart_markup(m) for m in metrics}
    return page("overview.html", caller, metrics=metrics, charts=charts)


@get("/accounts")
async def accounts(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await ui_caller(request, services)
    if caller is None:
        return Redirect(SIGN_IN, status_code=303)
    if not caller.is_operator:
        return page("not_allowed.html", caller, 403, title="Accounts")
    found = await services.accounts.list(limit=100)
    return page("accounts.html", caller, accounts=found, current="accounts")


@post("/accounts/switch", status_code=303)
async def switch_account(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    try:
        caller, form = await changing_caller(request, services)
    except AuthenticationError:
        return Redirect(SIGN_IN, status_code=303)
    if not caller.is_operator:
        return page("not_allowed.html", caller, 403, title="Accounts")
    name = str(form.get("account", ""))
    try:
        await services.accounts.get(name)
    except NotFound:
        listed = await services.accounts.list()
        return page("accounts.html", caller, 404, accounts=listed, error=f"No account {name}.")
    chosen = ui_cookie(request, ACCOUNT_COOKIE, name, int(SESSION_SECONDS))
    return Redirect("/ui/", status_code=303, cookies=[chosen])


@get("/{slug:str}")
async def not_built(
    request: AnyRequest, services: NamedDependency[Services], slug: FromPath[str]
) -> Any:
    caller = await ui_caller(request, services)
    if caller is None:
        return Redirect(SIGN_IN, status_code=303)
    found: Page | None = BY_SLUG.get(slug)
    if found is None:
        return page("not_found.html", caller, 404, title="Not found")
    if not allowed(found, caller):
        return page("not_allowed.html", caller, 403, title=found.label)
    return page("not_built.html", caller, title=found.label, current=slug)


def ui_router() -> Router:
    static = create_static_files_router(
        "/static",
        directories=[UI_DIR / "static"],
        name="ui_static",
        cache_control=CacheControlHeader(public=True, max_age=3600),
        include_in_schema=False,
    )
    handlers = [sign_in_page, sign_in, sign_out, overview, accounts, switch_account, not_built]
    return Router("/ui", route_handlers=[*handlers, static], include_in_schema=False)
