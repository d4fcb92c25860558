"""Render dynamic templates with Handlebars (an interpreter: templates run no code, read no
files)."""

from __future__ import annotations

from typing import Any

from dotpromptz_handlebars import Handlebars

from mta.errors import ValidationError


def render(
    source: str, data: dict[str, Any], *, template_id: str, part: str, escape_html: bool = True
) -> str:
    """Render one part (subject, html, plain) of a template; errors name the template."""
    engine = Handlebars(escape_html=escape_html)
    try:
        return engine.compile(source)(data)
    except Exception as exc:
        raise ValidationError(
            f"template {template_id} {part} failed to render: {exc}", field="template_id"
        ) from None
