"""The Members page (the account's admins): the account's users a page at a time, adding one
with a generated first password (shown once), changing a role, and removing one (their
sessions end); the account always keeps an admin (mta/services/users)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, page, poster, refused, viewer
from mta.core.errors import Conflict, ScaiSendError, ValidationError
from mta.services.user_roles import ACCOUNT_ROLES
from mta.services.users import MemberView, generated_password

SLUG = "members"
AccountRole = Literal["admin", "developer", "support"]
ROLE_HINTS = {
    "admin": "everything in the account, members included",
    "developer": "sending, keys, templates, webhooks",
    "support": "reads activity, statistics and suppressions",
}


class MemberAdd(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: str
    role: AccountRole = "developer"


class MemberChange(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: str
    role: AccountRole


class MemberRow(msgspec.Struct, frozen=True):
    email: str
    role: str
    created: str
    is_you: bool


class AddedMember(msgspec.Struct, frozen=True):
    email: str
    role: str
    password: str  # shown in the response that made it, never again


def utc_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def member_rows(members: list[MemberView], you: str) -> list[MemberRow]:
    return [MemberRow(m.email, m.role, utc_time(m.created_at), m.email == you) for m in members]


async def members_page(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    *,
    status: int = 200,
    added: AddedMember | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    row_error: str = "",
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    found = await services.users.members(
        caller.principal.account_id, limit=paging.fetch, offset=paging.offset
    )
    listed = shown(member_rows(found, caller.user.email), paging, query)
    return page(
        "members.html",
        caller,
        status,
        current=SLUG,
        members=listed,
        added=added,
        typed=typed or {"email": "", "role": "developer"},
        errors=errors or {},
        row_error=row_error,
        roles=ACCOUNT_ROLES,
        hints=ROLE_HINTS,
    )


def status_of(exc: ScaiSendError) -> int:
    return 409 if isinstance(exc, Conflict) else 400


@get("/members")
async def members(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await members_page(request, services, caller)


@post("/members", status_code=200)
async def add_member(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    if caller.account is None:  # viewer lets no one here without an account; say it twice
        return refused(caller, SLUG)
    typed = {"email": form.get("email", ""), "role": form.get("role", "")}
    password = generated_password()
    try:
        body = form_struct(typed, MemberAdd)
        made = await services.users.add(caller.account, body.email, body.role, password)
    except ScaiSendError as exc:
        errors = field_errors(exc)
        return await members_page(
            request, services, caller, status=status_of(exc), typed=typed, errors=errors
        )
    added = AddedMember(made.email, made.role, password)
    return await members_page(request, services, caller, added=added)


@post("/members/role", status_code=303)
async def change_role(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    fields = {"email": form.get("email", ""), "role": form.get("role", "")}
    try:
        body = form_struct(fields, MemberChange)
        # another account's email: NotFound, answered as the 404 page
        await services.users.set_role(caller.principal.account_id, body.email, body.role)
    except (Conflict, ValidationError) as exc:
        status = status_of(exc)
        return await members_page(request, services, caller, status=status, row_error=exc.message)
    return Redirect(f"/ui/{SLUG}", status_code=303)


@post("/members/remove", status_code=303)
async def remove_member(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    try:
        await services.users.remove_member(caller.principal.account_id, form.get("email", ""))
    except Conflict as exc:
        return await members_page(request, services, caller, status=409, row_error=exc.message)
    return Redirect(f"/ui/{SLUG}", status_code=303)


HANDLERS = [members, add_member, change_role, remove_member]
