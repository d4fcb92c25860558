"""What every dashboard page shares: rendering a template with the caller and the menu, the
dashboard's cookies, and the checks at the top of a handler (signed in? may see this page?
a form post carrying the session's CSRF token?) that answer with a redirect or a 403 page."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from control.routes.session import private_cookie
from control.services import Services
from control.ui.caller import UiCaller, ui_caller
from control.ui.navigation import BY_SLUG, allowed, menu
from control.ui.security import same_token

SIGN_IN = "/ui/sign-in"
AnyRequest = Request[Any, Any, Any]
Form = dict[str, str]  # a posted form, one value per field (the last one wins)


def page(
    name: str,
    caller: UiCaller | None,
    status: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """`name` rendered with the caller and the menu; never cached (pages hold account data)."""
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


def missing(caller: UiCaller, slug: str) -> Template:
    """The 404 page within the page `slug`: another account's id looks exactly like one that
    does not exist."""
    return page("not_found.html", caller, 404, title="Not found", current=slug)


def refused(caller: UiCaller, slug: str) -> Template:
    found = BY_SLUG[slug]
    return page("not_allowed.html", caller, 403, title=found.label, current=slug)


async def viewer(
    request: AnyRequest, services: Services, slug: str, scope: str = ""
) -> UiCaller | Response[Any]:
    """The caller who may see the page `slug` (navigation.PAGES) and holds `scope` if one is
    named, or the answer instead: the sign-in form when signed out, the account list for an
    operator with no account chosen, a 403 page when the role may not."""
    caller = await ui_caller(request, services)
    if caller is None:
        return Redirect(SIGN_IN, status_code=303)
    found = BY_SLUG[slug]
    if caller.account is None and not found.operator and caller.is_operator:
        return Redirect("/ui/accounts", status_code=303)
    if not allowed(found, caller) or (scope and not caller.principal.has_scope(scope)):
        return refused(caller, slug)
    return caller


async def poster(
    request: AnyRequest, services: Services, slug: str, scope: str = ""
) -> tuple[UiCaller, Form] | Response[Any]:
    """`viewer` for a form post (`scope`: the one its API route needs), which must also carry
    the session's CSRF token: without it the post changes nothing and the caller is sent to
    sign in."""
    caller = await viewer(request, services, slug, scope)
    if not isinstance(caller, UiCaller):
        return caller
    form = await posted_form(request)
    if not same_token(form.get("csrf_token", ""), caller.csrf_token):
        return Redirect(SIGN_IN, status_code=303)
    return caller, form


async def posted_form(request: AnyRequest) -> Form:
    form = await request.form()
    return {key: str(value) for key, value in form.items()}


async def posted_lists(request: AnyRequest) -> dict[str, list[str]]:
    """Every value of every field (checkbox groups such as a scopes picker)."""
    form = await request.form()
    found: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        found.setdefault(key, []).append(str(value))
    return found
