"""The API keys page: the account's keys a page at a time (never a secret), a create form with
a scopes picker (the new secret shown once, in that response only) and revoke, through the
same service, Struct and grant rule as `/v3/api_keys`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect

from control.schemas.bodies import ApiKeyCreate
from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors, form_struct
from control.ui.paging import paging_of, shown
from control.ui.rendering import AnyRequest, page, posted_lists, poster, viewer
from mta.core.errors import PermissionDenied, ScaiSendError, ValidationError
from mta.services.api_keys import KEY_PREFIX, ApiKeyView, CreatedKey, check_scopes
from mta.services.scopes import ALL_SCOPES

SLUG = "api-keys"
CREATE, REVOKE = "api_keys.create", "api_keys.delete"
# The picker's areas, in order: a scope goes to the first whose prefix it starts with.
AREAS = (
    ("Mail send", ("mail.send",)),
    ("Scheduled sends and batches", ("mail.batch.", "user.scheduled_sends.")),
    ("Activity and statistics", ("messages.", "email_activity.", "stats.", "categories.")),
    ("Suppressions and unsubscribe groups", ("suppression", "asm.")),
    ("Templates", ("templates.",)),
    ("Webhooks", ("user.webhooks.",)),
    ("API keys", ("api_keys.",)),
    ("DMARC and TLS reports", ("dmarc.", "tls_reports.")),
)
PRESETS = {"full": "Full access", "mail": "Mail send only", "read": "Read only"}
NO_SCOPE = "choose at least one scope"


class ScopeChoice(msgspec.Struct, frozen=True):
    name: str
    checked: bool


class ScopeGroup(msgspec.Struct, frozen=True):
    label: str
    choices: list[ScopeChoice]


class KeyRow(msgspec.Struct, frozen=True):
    api_key_id: str
    name: str
    environment: str
    shown_id: str  # the key's public part: `SS.<id>.…`
    scopes: str  # a summary
    scope_list: str  # every scope, for the row's title
    created: str


def area_of(scope: str) -> str:
    return next((label for label, starts in AREAS if scope.startswith(starts)), "Other")


def scope_groups(grantable: list[str], checked: set[str]) -> list[ScopeGroup]:
    """The scopes the caller may grant, by area (AREAS' order), `checked` ticked (pure)."""
    groups: dict[str, list[ScopeChoice]] = {label: [] for label, _ in AREAS}
    for scope in sorted(grantable):
        groups.setdefault(area_of(scope), []).append(ScopeChoice(scope, scope in checked))
    return [ScopeGroup(label, choices) for label, choices in groups.items() if choices]


def preset_scopes(preset: str, grantable: list[str]) -> set[str]:
    """A preset's scopes among those the caller may grant (an unknown preset: none)."""
    if preset == "full":
        return set(grantable)
    if preset == "read":
        return {scope for scope in grantable if scope.endswith(".read")}
    if preset == "mail":
        return {"mail.send"} & set(grantable)
    return set()


def scopes_summary(scopes: list[str]) -> str:
    """A short description of a key's scopes (pure)."""
    if set(scopes) >= set(ALL_SCOPES):
        return "Full access"
    if scopes == ["mail.send"]:
        return "Mail send only"
    if scopes and all(scope.endswith(".read") for scope in scopes) and len(scopes) > 3:
        return f"Read only ({len(scopes)} scopes)"
    if len(scopes) <= 3:
        return ", ".join(scopes) or "No scopes"
    return f"{', '.join(scopes[:2])} and {len(scopes) - 2} more"


def utc_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def key_row(key: ApiKeyView) -> KeyRow:
    return KeyRow(
        api_key_id=key.api_key_id,
        name=key.name,
        environment=key.environment,
        shown_id=f"{KEY_PREFIX}.{key.api_key_id}.…",
        scopes=scopes_summary(key.scopes),
        scope_list=" ".join(key.scopes),
        created=utc_time(key.created_at),
    )


def key_fields(form: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    """The form as the API's JSON body: the ticked scopes a list (none ticked: an empty one,
    refused here rather than made into a key that can do nothing)."""
    scopes = lists.get("scopes", [])
    if not scopes:
        raise ValidationError(NO_SCOPE, field="scopes")
    fields: dict[str, Any] = {"name": form.get("name", ""), "scopes": scopes}
    if form.get("environment"):
        fields["environment"] = form["environment"]
    return fields


async def keys_page(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    *,
    status: int = 200,
    created: CreatedKey | None = None,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Any:
    query = dict(request.query_params)
    paging = paging_of(query)
    rows = await services.api_keys.list(
        caller.principal.account_id, limit=paging.fetch, offset=paging.offset
    )
    listed = shown([key_row(key) for key in rows], paging, query)
    typed = typed or {"name": "", "environment": "test", "scopes": ["mail.send"]}
    grantable = caller.principal.scope_list()
    return page(
        "api_keys.html",
        caller,
        status,
        current=SLUG,
        keys=listed,
        created=created,
        typed=typed,
        errors=errors or {},
        groups=scope_groups(grantable, set(typed.get("scopes") or [])),
        presets=PRESETS,
        may_create=caller.principal.has_scope(CREATE),
        may_revoke=caller.principal.has_scope(REVOKE),
    )


@get("/api-keys")
async def api_keys(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await keys_page(request, services, caller)


@get("/api-keys/scopes")
async def scope_picker(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    """The picker's checkboxes with a preset ticked (the preset buttons swap them in)."""
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    grantable = caller.principal.scope_list()
    chosen = preset_scopes(request.query_params.get("preset", ""), grantable)
    return page("api_keys_scopes.html", caller, groups=scope_groups(grantable, chosen))


@post("/api-keys", status_code=200)
async def create_key(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG, CREATE)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    lists = await posted_lists(request)
    typed = {**form, "scopes": lists.get("scopes", [])}
    principal = caller.principal
    try:
        body = form_struct(key_fields(form, lists), ApiKeyCreate)
        principal.require_grantable(check_scopes(body.scopes), body.environment)
        made = await services.api_keys.create(
            principal.account_id, body.name, body.environment, body.scopes
        )
    except ScaiSendError as exc:
        status = 403 if isinstance(exc, PermissionDenied) else 400
        return await keys_page(
            request, services, caller, status=status, typed=typed, errors=field_errors(exc)
        )
    return await keys_page(request, services, caller, created=made)


@post("/api-keys/{key_id:str}/revoke", status_code=303)
async def revoke_key(
    request: AnyRequest, services: NamedDependency[Services], key_id: FromPath[str]
) -> Any:
    posted = await poster(request, services, SLUG, REVOKE)
    if not isinstance(posted, tuple):
        return posted
    caller, _ = posted
    await services.api_keys.revoke(caller.principal.account_id, key_id)  # NotFound: 404 page
    return Redirect(f"/ui/{SLUG}", status_code=303)


HANDLERS = [api_keys, scope_picker, create_key, revoke_key]
