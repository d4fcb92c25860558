"""The Templates page: the account's templates a page at a time, a template's versions,
and a version's editor with a live preview, through the same services as /v3/templates."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import nh3
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from control.schemas.bodies import TemplateCreate, VersionBody
from control.schemas.templates import version_fields
from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import GENERAL, field_errors, form_struct, optional
from control.ui.paging import paging_of, shown, shown_from_all
from control.ui.rendering import AnyRequest, Form, missing, page, poster, viewer
from mta.core.errors import NotFound, ScaiSendError
from mta.services.template_views import TemplateView, VersionView
from mta.submission.preview import PreviewSource

SLUG = "templates"
GENERATIONS: list[Any] = ["dynamic", "legacy"]
EDITED = ("name", "subject", "html_content", "plain_content", "test_data")
PREVIEWED = ("subject", "html_content", "plain_content", "test_data")
TEMPLATE = "/templates/{template_id:str}"
VERSION = TEMPLATE + "/versions/{version_id:str}"
Errors = dict[str, str]


class ShownPreview(msgspec.Struct, kw_only=True):
    """The preview as the fragment shows it: `inert_html` for the sandboxed frame."""

    subject: str
    plain_content: str
    html_content: str  # the rendered HTML, shown as text
    inert_html: str
    errors: Errors


def inert(html: str) -> str:
    """The rendered HTML without script, event handlers, styles or javascript: links, as
    a strict mail client shows it. The frame's sandbox is what stops scripts; this keeps
    the preview from tripping it (and the dashboard's CSP) on every render."""
    return nh3.clean(html) if html else ""


def template_url(template_id: str) -> str:
    return f"/ui/templates/{template_id}"


def version_url(template_id: str, version_id: str) -> str:
    return f"{template_url(template_id)}/versions/{version_id}"


def active_version(template: TemplateView) -> VersionView | None:
    return next((v for v in template.versions if v.active), None)


# -- the list ----------------------------------------------------------------------------


@get("/templates")
async def templates(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await template_list(request, services, caller)


async def template_list(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    status: int = 200,
    errors: Errors | None = None,
    form: Form | None = None,
) -> Template:
    query = dict(request.query_params)
    paging = paging_of(query)
    found = await services.templates.list_page(
        caller.principal.account_id, GENERATIONS, paging.fetch, paging.offset
    )
    listed = shown(found.templates, paging, query)
    active = {t.id: active_version(t) for t in listed.items}
    return page(
        "templates.html",
        caller,
        status,
        current=SLUG,
        listed=listed,
        active=active,
        errors=errors or {},
        form=form or {},
    )


@post("/templates", status_code=303)
async def create_template(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    posted = await poster(request, services, SLUG, "templates.create")
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    fields = {"name": form.get("name", ""), "generation": form.get("generation") or "dynamic"}
    try:
        body = form_struct(fields, TemplateCreate)
        made = await services.templates.create(
            caller.principal.account_id, body.name, body.generation, body.id
        )
    except ScaiSendError as exc:
        return await template_list(request, services, caller, 400, field_errors(exc), form)
    return Redirect(template_url(made.id), status_code=303)


# -- one template ------------------------------------------------------------------------


@get(TEMPLATE)
async def template_page(
    request: AnyRequest, services: NamedDependency[Services], template_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    return await template_detail(request, services, caller, template_id)


async def template_detail(
    request: AnyRequest,
    services: Services,
    caller: UiCaller,
    template_id: str,
    status: int = 200,
    errors: Errors | None = None,
    form: Form | None = None,
) -> Template:
    try:
        found = await services.templates.get(caller.principal.account_id, template_id)
    except NotFound:
        return missing(caller, SLUG)
    query = dict(request.query_params)
    versions = shown_from_all(found.versions, paging_of(query), query)
    return page(
        "templates_detail.html",
        caller,
        status,
        current=SLUG,
        template=found,
        versions=versions,
        errors=errors or {},
        form=form or {},
    )


@post(TEMPLATE + "/delete", status_code=303)
async def delete_template(
    request: AnyRequest, services: NamedDependency[Services], template_id: FromPath[str]
) -> Any:
    posted = await poster(request, services, SLUG, "templates.delete")
    if not isinstance(posted, tuple):
        return posted
    caller, _ = posted
    try:
        await services.templates.delete(caller.principal.account_id, template_id)
    except NotFound:
        return missing(caller, SLUG)
    return Redirect("/ui/templates", status_code=303)


@post(TEMPLATE + "/versions", status_code=303)
async def create_version(
    request: AnyRequest, services: NamedDependency[Services], template_id: FromPath[str]
) -> Any:
    posted = await poster(request, services, SLUG, "templates.versions.create")
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    account = caller.principal.account_id
    try:
        await services.templates.get(account, template_id)
    except NotFound:
        return missing(caller, SLUG)
    try:
        given = {k: optional(form.get(k)) for k in ("name", "subject")}  # empty: not given
        body = form_struct(given, VersionBody)
        made = await services.templates.add_version(
            account, template_id, version_fields(body, creating=True)
        )
    except ScaiSendError as exc:
        errors = field_errors(exc)
        return await template_detail(request, services, caller, template_id, 400, errors, form)
    return Redirect(version_url(template_id, made.id), status_code=303)


# -- one version -------------------------------------------------------------------------


async def version_of(
    services: Services, caller: UiCaller, template_id: str, version_id: str
) -> tuple[TemplateView, VersionView] | None:
    """The template and its version in the caller's account, or None (another account's
    ids are not found, as they are in the API)."""
    account = caller.principal.account_id
    try:
        template = await services.templates.get(account, template_id)
        version = await services.templates.get_version(account, template_id, version_id)
    except NotFound:
        return None
    return template, version


@get(VERSION)
async def version_page(
    request: AnyRequest,
    services: NamedDependency[Services],
    template_id: FromPath[str],
    version_id: FromPath[str],
) -> Any:
    caller = await viewer(request, services, SLUG, "templates.versions.read")
    if not isinstance(caller, UiCaller):
        return caller
    found = await version_of(services, caller, template_id, version_id)
    if found is None:
        return missing(caller, SLUG)
    template, version = found
    form = {name: getattr(version, name) or "" for name in EDITED}
    saved = request.query_params.get("saved") == "1"
    return editor(caller, template, version, form, {}, saved=saved)


def editor(
    caller: UiCaller,
    template: TemplateView,
    version: VersionView,
    form: Form,
    errors: Errors,
    status: int = 200,
    saved: bool = False,
) -> Template:
    return page(
        "templates_editor.html",
        caller,
        status,
        current=SLUG,
        template=template,
        version=version,
        form=form,
        errors=errors,
        saved=saved,
        previewed=PREVIEWED,
        title=f"{template.name}: {version.name}",
    )


@post(VERSION, status_code=303)
async def save_version(
    request: AnyRequest,
    services: NamedDependency[Services],
    template_id: FromPath[str],
    version_id: FromPath[str],
) -> Any:
    posted = await poster(request, services, SLUG, "templates.versions.update")
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    found = await version_of(services, caller, template_id, version_id)
    if found is None:
        return missing(caller, SLUG)
    edited = {name: form.get(name, "") for name in EDITED}
    try:
        body = form_struct(edited, VersionBody)
        await services.templates.update_version(
            caller.principal.account_id,
            template_id,
            version_id,
            version_fields(body, creating=False),
        )
    except ScaiSendError as exc:
        return editor(caller, *found, edited, field_errors(exc), 400)
    return Redirect(version_url(template_id, version_id) + "?saved=1", status_code=303)


@post(VERSION + "/preview")
async def preview_version(
    request: AnyRequest,
    services: NamedDependency[Services],
    template_id: FromPath[str],
    version_id: FromPath[str],
) -> Any:
    """The preview fragment the editor's form asks for (htmx) as the user types."""
    posted = await poster(request, services, SLUG, "templates.versions.read")
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    found = await version_of(services, caller, template_id, version_id)
    if found is None:
        return missing(caller, SLUG)
    version = found[1]
    source = PreviewSource(
        template_id=template_id,
        version_id=version_id,
        generate_plain_content=version.generate_plain_content,
        **{name: form.get(name, "") for name in PREVIEWED},
    )
    rendered = await services.intake.preview(source)
    shown_preview = ShownPreview(
        subject=rendered.subject,
        plain_content=rendered.plain_content,
        html_content=rendered.html_content,
        inert_html=await asyncio.to_thread(inert, rendered.html_content),
        errors=rendered.errors,
    )
    return page("templates_preview.html", caller, preview=shown_preview, previewed=PREVIEWED)


@post(VERSION + "/activate", status_code=303)
async def activate_version(
    request: AnyRequest,
    services: NamedDependency[Services],
    template_id: FromPath[str],
    version_id: FromPath[str],
) -> Any:
    return await version_action(request, services, template_id, version_id, activating=True)


@post(VERSION + "/delete", status_code=303)
async def delete_version(
    request: AnyRequest,
    services: NamedDependency[Services],
    template_id: FromPath[str],
    version_id: FromPath[str],
) -> Any:
    return await version_action(request, services, template_id, version_id, activating=False)


async def version_action(
    request: AnyRequest, services: Services, template_id: str, version_id: str, *, activating: bool
) -> Any:
    """Activate or delete a version, each behind its API route's scope; back to the
    template's page, which shows a refusal (the active version kept) beside the list."""
    scope = "templates.versions.activate.create" if activating else "templates.versions.delete"
    posted = await poster(request, services, SLUG, scope)
    if not isinstance(posted, tuple):
        return posted
    caller, _ = posted
    account, templates_ = caller.principal.account_id, services.templates
    try:
        if activating:
            await templates_.activate(account, template_id, version_id)
        else:
            await templates_.delete_version(account, template_id, version_id)
    except NotFound:
        return missing(caller, SLUG)
    except ScaiSendError as exc:
        errors = {GENERAL: exc.message}
        return await template_detail(request, services, caller, template_id, 400, errors)
    return Redirect(template_url(template_id), status_code=303)


HANDLERS = [
    templates,
    create_template,
    template_page,
    delete_template,
    create_version,
    version_page,
    save_version,
    preview_version,
    activate_version,
    delete_version,
]
