"""What the templates service hands out, in SendGrid's shapes: templates, versions, pages of
templates; plus the pure rules for ids, names, version fields and page tokens."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
import uuid
from typing import Literal

import msgspec

from mta.core.errors import ValidationError
from mta.db.models import Template, TemplateVersion

Generation = Literal["legacy", "dynamic"]
Editor = Literal["code", "design"]
TEMPLATE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
NAME_MAX = 100
SUBJECT_MAX = 255
CONTENT_MAX = 1_048_576
PAGE_SIZE_MAX = 200


class VersionView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    template_id: str
    active: int
    name: str
    subject: str
    html_content: str
    plain_content: str
    generate_plain_content: bool
    editor: Editor
    updated_at: str
    test_data: str | None = None
    thumbnail_url: str | None = None


class TemplateView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    generation: Generation
    updated_at: str
    versions: list[VersionView]


class TemplatePage(msgspec.Struct, kw_only=True):
    """One page of templates, `offset` into `count` templates matching the query."""

    templates: list[TemplateView]
    count: int
    offset: int


class VersionFields(msgspec.Struct, kw_only=True):
    """A version's editable fields; None leaves a field as it is."""

    name: str | None = None
    subject: str | None = None
    html_content: str | None = None
    plain_content: str | None = None
    generate_plain_content: bool | None = None
    editor: Editor | None = None
    test_data: str | None = None
    active: bool | None = None


def sendgrid_time(ts: float) -> str:
    """SendGrid's resource time: "YYYY-MM-DD HH:MM:SS" in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def new_template_id(generation: Generation) -> str:
    """`d-` + 32 hex for dynamic templates, a UUID for legacy ones (as SendGrid)."""
    return "d-" + secrets.token_hex(16) if generation == "dynamic" else str(uuid.uuid4())


def new_version_id() -> str:
    return str(uuid.uuid4())


def generation_of(row: Template) -> Generation:
    return "dynamic" if row.generation == "dynamic" else "legacy"


def version_view(row: TemplateVersion) -> VersionView:
    return VersionView(
        id=row.id,
        template_id=row.template_id,
        active=int(row.active),
        name=row.name,
        subject=row.subject,
        html_content=row.html_content,
        plain_content=row.plain_content,
        generate_plain_content=row.generate_plain_content,
        editor="design" if row.editor == "design" else "code",
        updated_at=sendgrid_time(row.updated_at),
        test_data=row.test_data,
    )


def template_view(row: Template, versions: list[TemplateVersion]) -> TemplateView:
    return TemplateView(
        id=row.id,
        name=row.name,
        generation=generation_of(row),
        updated_at=sendgrid_time(row.updated_at),
        versions=[version_view(v) for v in versions],
    )


def check_name(name: str, field: str = "name") -> str:
    if not name.strip():
        raise ValidationError(f"{field} is required", field=field)
    if len(name) > NAME_MAX:
        raise ValidationError(f"{field} may be at most {NAME_MAX} characters", field=field)
    return name


def check_template_id(template_id: str) -> str:
    if not TEMPLATE_ID_RE.match(template_id):
        raise ValidationError(
            "an id is 1 to 64 letters, digits, '-' or '_', starting with a letter or digit",
            field="id",
        )
    return template_id


def check_version_fields(fields: VersionFields) -> None:
    """Lengths as SendGrid limits them, and test_data a JSON object when it is given."""
    if fields.name is not None:
        check_name(fields.name)
    if fields.subject is not None and len(fields.subject) > SUBJECT_MAX:
        raise ValidationError(f"subject may be at most {SUBJECT_MAX} characters", field="subject")
    for field in ("html_content", "plain_content"):
        value = getattr(fields, field)
        if value is not None and len(value.encode()) > CONTENT_MAX:
            raise ValidationError(f"{field} may be at most {CONTENT_MAX} bytes", field=field)
    if fields.test_data:
        try:
            decoded = json.loads(fields.test_data)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise ValidationError("test_data must be a JSON object in a string", field="test_data")


def parse_generations(raw: str | None) -> list[Generation]:
    """`generations=legacy,dynamic` (SendGrid lists legacy templates when it is absent)."""
    names = [part.strip() for part in (raw or "legacy").split(",") if part.strip()]
    chosen: list[Generation] = []
    for name in names:
        if name not in ("legacy", "dynamic"):
            raise ValidationError(
                "generations must be legacy, dynamic or legacy,dynamic", field="generations"
            )
        chosen.append("dynamic" if name == "dynamic" else "legacy")
    return chosen or ["legacy"]


def parse_page_size(raw: str | None) -> int:
    """`page_size` is required, an integer from 1 to 200, as SendGrid."""
    try:
        size = int(raw) if raw is not None else 0
    except ValueError:
        size = 0
    if not 1 <= size <= PAGE_SIZE_MAX:
        raise ValidationError(
            f"page_size is required: an integer from 1 to {PAGE_SIZE_MAX}", field="page_size"
        )
    return size


def page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def page_offset(token: str | None) -> int:
    """The offset a page token stands for (0 for no token)."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        if text.startswith("o") and text[1:].isdigit():
            return int(text[1:])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationError("page_token is not a token this server gave", field="page_token")
