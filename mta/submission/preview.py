"""A template version rendered with sample data as a send renders it (the dashboard's live
preview): the same Handlebars renderer, render limits and field limits, errors by part."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from mta.core.errors import ValidationError
from mta.handlebars.render import CompiledTemplates, render
from mta.services.template_views import VersionFields, check_version_fields
from mta.services.templates import plain_for

PARTS = ("subject", "html_content", "plain_content")
NO_DATA = "test_data"  # the field whose error stops every part from rendering


class PreviewSource(msgspec.Struct, kw_only=True):
    """What the editor holds: a version's parts (not yet saved) and its sample data."""

    template_id: str
    version_id: str
    subject: str = ""
    html_content: str = ""
    plain_content: str = ""
    generate_plain_content: bool = True
    test_data: str = ""


class Preview(msgspec.Struct, kw_only=True):
    """The rendered parts; `errors` by field name (a part, or test_data) for what failed."""

    subject: str = ""
    html_content: str = ""
    plain_content: str = ""
    errors: dict[str, str] = msgspec.field(default_factory=dict)


def sample_data(test_data: str) -> dict[str, Any]:
    """The editor's test data as the render's data: none is `{}`, else a JSON object."""
    if not test_data.strip():
        return {}
    try:
        decoded = json.loads(test_data)
    except ValueError as exc:
        raise ValidationError(f"test_data is not JSON: {exc}", field=NO_DATA) from None
    if not isinstance(decoded, dict):
        raise ValidationError("test_data must be a JSON object", field=NO_DATA)
    return decoded


def field_problems(source: PreviewSource) -> dict[str, str]:
    """Each field checked alone against the API's limits, so each gets its own message."""
    found: dict[str, str] = {}
    for name in (*PARTS, NO_DATA):
        try:
            if name == NO_DATA:
                sample_data(source.test_data)
            else:
                check_version_fields(VersionFields(**{name: getattr(source, name)}))
        except ValidationError as exc:
            found[name] = exc.message
    return found


def preview_version(source: PreviewSource, compiled: CompiledTemplates) -> Preview:
    """Every part rendered with the test data (CPU work: run it off the event loop). The
    plain text is derived from the HTML when the version derives it and none is given."""
    errors = field_problems(source)
    if NO_DATA in errors:
        return Preview(errors=errors)
    data = sample_data(source.test_data)
    plain = plain_for(source.html_content, source.plain_content, source.generate_plain_content)
    sources = {"subject": source.subject, "html_content": source.html_content}
    sources["plain_content"] = plain
    rendered: dict[str, str] = {}
    for part, text in sources.items():
        if part in errors or not text:
            continue
        try:
            rendered[part] = render(
                text,
                data,
                template_id=source.template_id,
                version=source.version_id,
                part=part,
                compiled=compiled,
            )
        except ValidationError as exc:
            errors[part] = exc.message
    return Preview(**rendered, errors=errors)
