"""The Suppressions page: every suppression list of the account (`?list=`) and its
unsubscribe groups, each searchable and paginated with why an address is on it; adding and
removing addresses with the scopes, services and validation of /v3/suppression and /v3/asm."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.schemas.suppressions import GroupCreate, RecipientEmails
from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct, optional
from control.ui.paging import paging_of, shown, shown_from_all
from control.ui.rendering import AnyRequest, Form, missing, page, poster, refused, viewer
from mta.core.errors import NotFound, ScaiSendError, ValidationError
from mta.services.asm_groups import group_id_of
from mta.services.suppressions import Listed, list_name

SLUG = "suppressions"
BASE = "/ui/suppressions"
GROUPS = "groups"  # the `?list=` of the unsubscribe groups
MAX_ADDED = 1000  # addresses one form may add
SEPARATORS = re.compile(r"[\s,;]+")


class ListTab(msgspec.Struct, frozen=True):
    """One list as a tab, with the API's scopes for reading, removing and adding."""

    name: str
    label: str
    read: str
    remove: str = ""
    add: str = ""
    about: str = ""


TABS = (
    ListTab(
        "bounces",
        "Bounces",
        "suppression.bounces.read",
        "suppression.bounces.delete",
        about="Hard bounces: the receiving server said the mailbox does not exist.",
    ),
    ListTab(
        "blocks",
        "Blocks",
        "suppression.blocks.read",
        "suppression.blocks.delete",
        about="Refused for the message or the sender, or expired in the queue. Listed, "
        "not suppressed.",
    ),
    ListTab(
        "spam_reports",
        "Spam reports",
        "suppression.spam_reports.read",
        "suppression.spam_reports.delete",
        about="The recipient marked a message as spam (a feedback-loop report).",
    ),
    ListTab(
        "invalid_emails",
        "Invalid emails",
        "suppression.invalid_emails.read",
        "suppression.invalid_emails.delete",
        about="Hard bounces that say the address cannot exist (no such domain, bad syntax).",
    ),
    ListTab(
        "unsubscribes",
        "Global unsubscribes",
        "suppression.unsubscribes.read",
        "asm.suppressions.global.delete",
        "asm.suppressions.global.create",
        about="Addresses that receive no mail at all from this account.",
    ),
    ListTab(
        GROUPS,
        "Unsubscribe groups",
        "asm.groups.read",
        add="asm.groups.create",
        about="Groups a recipient can leave on their own; mail sent with a group skips "
        "the addresses that left it.",
    ),
)
TAB_OF = {tab.name: tab for tab in TABS}
GROUP_READ = ("asm.groups.read", "asm.groups.suppressions.read")
GROUP_ADD, GROUP_REMOVE = "asm.groups.suppressions.create", "asm.groups.suppressions.delete"


class Row(msgspec.Struct, frozen=True):
    email: str
    when: str  # UTC, to the minute
    stamp: str  # ISO 8601, for <time datetime>
    why: str
    detail: str  # status, IP, message: what else the entry stores


def when_of(created: int) -> tuple[str, str]:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC"), moment.isoformat()


def why_of(name: str, entry: Listed) -> str:
    """Why the address is on list `name` ("group" for a group), in words (pure)."""
    if entry.event_type is None:
        return "Added by hand (API or dashboard)"
    if name in ("bounces", "blocks", "invalid_emails"):
        return entry.reason or {"blocks": "Blocked"}.get(name, "Bounced")
    if name == "spam_reports":
        return "Marked as spam by the recipient"
    if entry.event_type == "group_unsubscribe":
        if name == "group":
            return "Unsubscribed from this group"
        return "Unsubscribed from a group this account does not have"
    return "Unsubscribed (link, one-click or mail)"


def row_of(name: str, entry: Listed) -> Row:
    facts = [f"status {entry.status}" if entry.status else "", f"IP {entry.ip}" if entry.ip else ""]
    facts.append(f"message {entry.message_id}" if entry.message_id else "")
    when, stamp = when_of(entry.created)
    return Row(entry.email, when, stamp, why_of(name, entry), " · ".join(f for f in facts if f))


def addresses_typed(text: str) -> list[str]:
    """The addresses in a text box: separated by commas, semicolons, spaces or lines."""
    found = [part for part in SEPARATORS.split(text) if part]
    if not found:
        raise ValidationError("Enter at least one email address.", field="recipient_emails")
    if len(found) > MAX_ADDED:
        raise ValidationError(f"At most {MAX_ADDED} addresses at a time.", field="recipient_emails")
    return found


def readable(caller: UiCaller) -> list[ListTab]:
    return [tab for tab in TABS if caller.principal.has_scope(tab.read)]


def list_link(name: str, search: str = "") -> str:
    query = {"list": name, **({"email": search} if search else {})}
    return f"{BASE}?{urlencode(query)}"


@get("/suppressions")
async def suppressions(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    tabs = readable(caller)
    name = request.query_params.get("list") or (tabs[0].name if tabs else "bounces")
    tab = TAB_OF.get(name)
    if tab is None:
        return missing(caller, SLUG)
    if tab not in tabs:
        return refused(caller, SLUG)
    return await list_page(request, services, caller, tab)


async def list_page(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    tab: ListTab,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Form | None = None,
) -> Any:
    """The tab's list (or the groups), a page at a time, and its forms."""
    query = dict(request.query_params)
    query["list"] = tab.name
    paging = paging_of(query)
    errors, search = dict(errors or {}), query.get("email", "")
    if tab.name == GROUPS:
        groups = await services.asm_groups.list_groups(caller.principal.account_id)
        listed: Any = shown_from_all(groups, paging, query, "/ui/suppressions")
    else:
        name = list_name(tab.name)  # every other tab is a list
        try:
            found = await services.suppressions.listed(
                caller.principal.account_id, name, search, paging.fetch, paging.offset
            )
        except ValidationError as exc:
            found, status = [], 400
            errors.setdefault("email", exc.message)
        listed = shown([row_of(name, e) for e in found], paging, query, "/ui/suppressions")
    return page(
        "suppressions.html",
        caller,
        status,
        title="Suppressions",
        current=SLUG,
        tabs=readable(caller),
        tab=tab,
        listed=listed,
        search=search,
        errors=errors,
        typed=typed or {},
        can_add=bool(tab.add) and caller.principal.has_scope(tab.add),
        can_remove=bool(tab.remove) and caller.principal.has_scope(tab.remove),
    )


async def posted_for(
    request: AnyRequest, services: Services, scope_of: str
) -> tuple[UiCaller, Form, ListTab] | Any:
    """`poster`, the form's list, and the caller's right to the tab's `scope_of` action."""
    posted = await poster(request, services, SLUG)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    tab = TAB_OF.get(form.get("list", ""))
    scope = getattr(tab, scope_of, "") if tab is not None else ""
    if tab is None or not scope or not caller.principal.has_scope(scope):
        return refused(caller, SLUG)
    return caller, form, tab


@post("/suppressions/remove", status_code=303)
async def remove_address(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await posted_for(request, services, "remove")
    if not isinstance(posted, tuple):
        return posted
    caller, form, tab = posted
    name = list_name(tab.name)  # only lists have a remove scope
    email = form.get("email", "").strip()
    try:
        await services.suppressions.delete_entry(caller.principal.account_id, name, email)
    except NotFound as exc:
        return await list_page(request, services, caller, tab, 404, {"": exc.message})
    return Redirect(list_link(tab.name, form.get("search", "")), status_code=303)


@post("/suppressions/add", status_code=303)
async def add_addresses(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await posted_for(request, services, "add")
    if not isinstance(posted, tuple):
        return posted
    caller, form, tab = posted
    try:
        if tab.name == GROUPS:
            fields = {key: form.get(key, "") for key in ("name", "description")}
            group = form_struct({**fields, "is_default": "is_default" in form}, GroupCreate)
            await services.asm_groups.create(
                caller.principal.account_id, group.name, group.description, group.is_default
            )
        else:
            typed = {"recipient_emails": addresses_typed(form.get("recipient_emails", ""))}
            body = form_struct(typed, RecipientEmails)
            await services.suppressions.add_global(
                caller.principal.account_id, body.recipient_emails
            )
    except ScaiSendError as exc:
        return await list_page(request, services, caller, tab, 400, field_errors(exc), form)
    return Redirect(list_link(tab.name), status_code=303)


@get("/suppressions/groups/{group_id:str}")
async def group_page(
    request: AnyRequest, services: NamedDependency[Services], group_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    if not all(caller.principal.has_scope(scope) for scope in GROUP_READ):
        return refused(caller, SLUG)
    return await group_view(request, services, caller, group_id)


async def group_view(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    raw_id: str,
    status: int = 200,
    errors: dict[str, str] | None = None,
    typed: Form | None = None,
) -> Any:
    """One group of the account and its suppressed addresses; another's is not found."""
    account, errors = caller.principal.account_id, dict(errors or {})
    query = dict(request.query_params)
    paging, search = paging_of(query), query.get("email", "")
    try:
        group = await services.asm_groups.get(account, group_id_of(raw_id))
        try:
            found = await services.asm_groups.listed(
                account, group.id, search, paging.fetch, paging.offset
            )
        except ValidationError as exc:
            found, status = [], 400
            errors.setdefault("email", exc.message)
    except NotFound:
        return missing(caller, SLUG)
    return page(
        "suppression_group.html",
        caller,
        status,
        title=f"Suppressions: {group.name}",
        current=SLUG,
        group=group,
        listed=shown(
            [row_of("group", e) for e in found],
            paging,
            query,
            f"/ui/suppressions/groups/{group.id}",
        ),
        search=search,
        errors=errors,
        typed=typed or {},
        can_add=caller.principal.has_scope(GROUP_ADD),
        can_remove=caller.principal.has_scope(GROUP_REMOVE),
    )


async def group_posted(
    request: AnyRequest, services: Services, raw_id: str, scope: str
) -> tuple[UiCaller, Form, int] | Any:
    """`poster`, the scope, and the group: one of the caller's own account, else a 404 page
    (so a forged post never reaches another account's group, nor the global list)."""
    posted = await poster(request, services, SLUG, scope)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    try:
        group = await services.asm_groups.get(caller.principal.account_id, group_id_of(raw_id))
    except NotFound:
        return missing(caller, SLUG)
    return caller, form, group.id


@post("/suppressions/groups/{group_id:str}/add", status_code=303)
async def add_to_group(
    request: AnyRequest, services: NamedDependency[Services], group_id: FromPath[str]
) -> Any:
    posted = await group_posted(request, services, group_id, GROUP_ADD)
    if not isinstance(posted, tuple):
        return posted
    caller, form, found = posted
    try:
        typed = {"recipient_emails": addresses_typed(form.get("recipient_emails", ""))}
        body = form_struct(typed, RecipientEmails)
        await services.asm_groups.add_suppressions(
            caller.principal.account_id, found, body.recipient_emails
        )
    except ScaiSendError as exc:
        return await group_view(request, services, caller, group_id, 400, field_errors(exc), form)
    return Redirect(f"{BASE}/groups/{found}", status_code=303)


@post("/suppressions/groups/{group_id:str}/remove", status_code=303)
async def remove_from_group(
    request: AnyRequest, services: NamedDependency[Services], group_id: FromPath[str]
) -> Any:
    posted = await group_posted(request, services, group_id, GROUP_REMOVE)
    if not isinstance(posted, tuple):
        return posted
    caller, form, found = posted
    email = form.get("email", "").strip()
    try:
        await services.asm_groups.remove_suppression(caller.principal.account_id, found, email)
    except NotFound as exc:
        return await group_view(request, services, caller, group_id, 404, {"": exc.message})
    search = optional(form.get("search"))
    back = f"{BASE}/groups/{found}" + (f"?{urlencode({'email': search})}" if search else "")
    return Redirect(back, status_code=303)


HANDLERS = [
    suppressions,
    remove_address,
    add_addresses,
    group_page,
    add_to_group,
    remove_from_group,
]
