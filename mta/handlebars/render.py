"""Render dynamic templates with Handlebars as SendGrid does, with its helpers (an interpreter:
templates run no code, read no files, and reach only the keys of the data they are given)."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from dotpromptz_handlebars import Handlebars

from mta.core.errors import ValidationError
from mta.handlebars.helpers import SENDGRID_HELPERS

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


Compiled = Callable[[dict[str, Any]], str]


def _compile(source: str, escape_html: bool) -> Compiled:
    if INLINE_PARTIAL_RE.search(source):
        raise ValueError("inline partials are not supported")
    compiled: Compiled = engine(escape_html=escape_html).compile(source)
    return compiled


class CompiledTemplates:
    """Compiled templates by source, so a template sent to many recipients is parsed once
    (parsing is about 40 % of a render); the least recently used go first."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._compiled: OrderedDict[tuple[str, bool], Compiled] = OrderedDict()

    def get(self, source: str, escape_html: bool) -> Compiled:
        key = (source, escape_html)
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        compiled = self._compiled[key] = _compile(source, escape_html)
        if len(self._compiled) > self._size:
            self._compiled.popitem(last=False)
        return compiled


def render(
    source: str,
    data: dict[str, Any],
    *,
    template_id: str,
    part: str,
    escape_html: bool = True,
    compiled: CompiledTemplates | None = None,
) -> str:
    """Render one part (subject, html, plain) of a template; errors name the template."""
    try:
        if compiled is None:
            return _compile(source, escape_html)(data)
        return compiled.get(source, escape_html)(data)
    except Exception as exc:  # any failure of a user's template is the user's 400
        raise ValidationError(
            f"template {template_id} {part} failed to render: {_problem(exc)}",
            field="template_id",
        ) from None


def check(source: str, *, part: str) -> None:
    """Raise ValidationError on the field `part` when `source` is not a valid template."""
    try:
        _compile(source, escape_html=True)
    except Exception as exc:
        raise ValidationError(
            f"{part} is not a valid template: {_problem(exc)}", field=part
        ) from None
