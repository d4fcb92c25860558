"""Template responses and conversions at the HTTP edge: SendGrid's paged list
(`{"result": [...], "_metadata": {...}}`) and a version body into the service's fields."""

from __future__ import annotations

from urllib.parse import urlencode

import msgspec

from control.schemas.bodies import VersionBody
from mta.core.errors import ValidationError
from mta.services.template_views import (
    Generation,
    TemplatePage,
    TemplateView,
    VersionFields,
    page_token,
)


class PageMetadata(msgspec.Struct, kw_only=True, omit_defaults=True):
    count: int
    prev: str | None = None
    self_: str | None = msgspec.field(default=None, name="self")
    next: str | None = None


class TemplateList(msgspec.Struct, kw_only=True):
    result: list[TemplateView]
    metadata: PageMetadata = msgspec.field(name="_metadata")


def page_url(base: str, generations: list[Generation], size: int, offset: int) -> str:
    query = {"generations": ",".join(generations), "page_size": str(size)}
    if offset:
        query["page_token"] = page_token(offset)
    return f"{base}/v3/templates?{urlencode(query)}"


def template_list(
    page: TemplatePage, base: str, generations: list[Generation], size: int
) -> TemplateList:
    """The page with links to itself and to the pages before and after it."""
    metadata = PageMetadata(count=page.count, self_=page_url(base, generations, size, page.offset))
    if page.offset > 0:
        metadata.prev = page_url(base, generations, size, max(0, page.offset - size))
    if page.offset + size < page.count:
        metadata.next = page_url(base, generations, size, page.offset + size)
    return TemplateList(result=page.templates, metadata=metadata)


def version_fields(body: VersionBody, *, creating: bool) -> VersionFields:
    """The editable fields of a version body; `name` and `subject` are required to create."""
    if creating:
        for field in ("name", "subject"):
            if getattr(body, field) is None:
                raise ValidationError(f"{field} is required", field=field)
    if body.active is not None and body.active not in (0, 1):
        raise ValidationError("active must be 0 or 1", field="active")
    return VersionFields(
        name=body.name,
        subject=body.subject,
        html_content=body.html_content,
        plain_content=body.plain_content,
        generate_plain_content=body.generate_plain_content,
        editor=body.editor,
        test_data=body.test_data,
        active=None if body.active is None else bool(body.active),
    )
