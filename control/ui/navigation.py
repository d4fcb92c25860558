"""The dashboard's menu: every page of the dashboard and the rights each needs. A page the
caller's role may not use is left out of the menu and refused."""

from __future__ import annotations

import msgspec

from control.ui.caller import UiCaller


class Page(msgspec.Struct, frozen=True):
    slug: str  # the path under /ui/ ("" for the Overview)
    label: str
    scope: str = ""  # a scope the caller must hold ("" none)
    admin: bool = False  # the account's admin (or the operator acting as one)
    operator: bool = False  # the operator only; shown without an account


PAGES = (
    Page("", "Overview", scope="stats.read"),
    Page("activity", "Activity", scope="messages.read"),
    Page("domains", "Domains", admin=True),
    Page("api-keys", "API keys", scope="api_keys.read"),
    Page("templates", "Templates", scope="templates.read"),
    Page("suppressions", "Suppressions", scope="suppression.read"),
    Page("webhooks", "Webhooks", scope="user.webhooks.event.settings.read"),
    Page("queue", "Queue", admin=True),
    Page("members", "Members", admin=True),
    Page("accounts", "Accounts", operator=True),
)
BY_SLUG = {page.slug: page for page in PAGES}


def allowed(page: Page, caller: UiCaller) -> bool:
    if page.operator:
        return caller.is_operator
    if caller.account is None:
        return False
    if page.admin:
        return caller.principal.role == "admin"
    return not page.scope or caller.principal.has_scope(page.scope)


def menu(caller: UiCaller) -> list[Page]:
    return [page for page in PAGES if allowed(page, caller)]
