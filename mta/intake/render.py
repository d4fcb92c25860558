"""Render dynamic templates with Handlebars as SendGrid does, with its helpers (an interpreter:
templates run no code, read no files, and reach only the keys of the data they are given)."""

from __future__ import annotations

import re
from typing import Any

from dotpromptz_handlebars import Handlebars

from mta.errors import ValidationError
from mta.intake.helpers import SENDGRID_HELPERS

# Nesting deeper than this is refused; it keeps the interpreter's recursion far from
# Python's limit.
MAX_DEPTH = 40
# Inline partials let a template call itself: refused, like partials (SendGrid has neither).
INLINE_PARTIAL_RE = re.compile(r"\{\{~?\s*#\s*\*")


def engine(*, escape_html: bool = True) -> Handlebars:
    """A Handlebars interpreter with SendGrid's helpers and without `log` (it would print
    recipients' data to the server's log)."""
    handlebars = Handlebars(escape_html=escape_html, max_depth=MAX_DEPTH)
    handlebars.unregister_helper("log")
    for name, helper in SENDGRID_HELPERS.items():
        handlebars.register_helper(name, helper)
    return handlebars


def _problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "the template nests too deeply"
    return str(exc) or type(exc).__name__


def _run(source: str, data: dict[str, Any] | None, escape_html: bool) -> str:
    """Compile `source` and, given data, render it; no data only checks that it parses."""
    if INLINE_PARTIAL_RE.search(source):
        raise ValueError("inline partials are not supported")
    compiled = engine(escape_html=escape_html).compile(source)
    return "" if data is None else compiled(data)


def render(
    source: str, data: dict[str, Any], *, template_id: str, part: str, escape_html: bool = True
) -> str:
    """Render one part (subject, html, plain) of a template; errors name the template."""
    try:
        return _run(source, data, escape_html)
    except Exception as exc:  # any failure of a user's template is the user's 400
        raise ValidationError(
            f"template {template_id} {part} failed to render: {_problem(exc)}",
            field="template_id",
        ) from None


def check(source: str, *, part: str) -> None:
    """Raise ValidationError on the field `part` when `source` is not a valid template."""
    try:
        _run(source, None, escape_html=True)
    except Exception as exc:
        raise ValidationError(
            f"{part} is not a valid template: {_problem(exc)}", field=part
        ) from None
