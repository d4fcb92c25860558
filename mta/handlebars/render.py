"""Render dynamic templates with Handlebars as SendGrid does, with its helpers (an interpreter:
templates run no code, read no files, and reach only the keys of the data they are given),
each render within a budget of steps, output and time (mta/handlebars/budget.py)."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from dotpromptz_handlebars import Handlebars
from dotpromptz_handlebars._render import compile_template

from mta.core.errors import ValidationError
from mta.handlebars.budget import (
    Budget,
    Clock,
    RenderLimitExceeded,
    RenderLimits,
    meter_program,
    metered,
    metered_helper,
)
from mta.handlebars.helpers import SENDGRID_HELPERS

# Nesting deeper than this is refused; it keeps the interpreter's recursion far from
# Python's limit.
MAX_DEPTH = 40
# Inline partials let a template call itself: refused, like partials (SendGrid has neither).
INLINE_PARTIAL_RE = re.compile(r"\{\{~?\s*#\s*\*")

Compiled = Callable[[Any], str]


class _Engine(Handlebars):
    """The interpreter, whose compiled templates charge the render found in `current`."""

    def __init__(self, *, escape_html: bool, current: ContextVar[Budget | None]) -> None:
        super().__init__(escape_html=escape_html, max_depth=MAX_DEPTH)
        self._current = current
        self.unregister_helper("log")  # it would print recipients' data to the server's log
        for name, helper in SENDGRID_HELPERS.items():
            self.register_helper(name, metered_helper(helper, current))

    def compile_metered(self, source: str) -> Compiled:
        program = compile_template(source, max_depth=self.max_depth)
        meter_program(program, self._current)

        def render(context: Any) -> str:
            return self._render_program(program, context, None, data=None)

        return render


def _problem(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "the template nests too deeply"
    return str(exc) or type(exc).__name__


def _compile(source: str, escape_html: bool, current: ContextVar[Budget | None]) -> Compiled:
    if INLINE_PARTIAL_RE.search(source):
        raise ValueError("inline partials are not supported")
    return _Engine(escape_html=escape_html, current=current).compile_metered(source)


class CompiledTemplates:
    """Compiled templates by source, so a template sent to many recipients is parsed once
    (parsing is about 40 % of a render); the least recently used go first. Renders run
    within `limits`, timed by `clock`; several threads may render at once."""

    def __init__(
        self, size: int = 256, limits: RenderLimits | None = None, clock: Clock = time.monotonic
    ) -> None:
        self._size = size
        self._compiled: OrderedDict[tuple[str, bool], Compiled] = OrderedDict()
        self.limits = limits or RenderLimits()
        self._clock = clock
        self._current: ContextVar[Budget | None] = ContextVar("render_budget", default=None)

    def get(self, source: str, escape_html: bool) -> Compiled:
        key = (source, escape_html)
        compiled = self._compiled.get(key)
        if compiled is not None:
            self._compiled.move_to_end(key)
            return compiled
        compiled = self._compiled[key] = _compile(source, escape_html, self._current)
        if len(self._compiled) > self._size:
            self._compiled.popitem(last=False)
        return compiled

    def render(self, source: str, data: dict[str, Any], escape_html: bool = True) -> str:
        """`source` rendered with `data`; RenderLimitExceeded when over the budget."""
        compiled = self.get(source, escape_html)
        budget = Budget(self.limits, self._clock)
        token = self._current.set(budget)
        try:
            text = compiled(metered(data, budget))
        finally:
            self._current.reset(token)
        budget.check_output(text)
        return text


def render(
    source: str,
    data: dict[str, Any],
    *,
    template_id: str,
    part: str,
    version: str = "",
    escape_html: bool = True,
    compiled: CompiledTemplates | None = None,
) -> str:
    """Render one part (subject, html, plain) of a template; errors name the template (and
    its version) and, over the budget, the limit."""
    name = f"{template_id} version {version}" if version else template_id
    templates = compiled or CompiledTemplates(size=1)
    try:
        return templates.render(source, data, escape_html)
    except RenderLimitExceeded as exc:
        raise ValidationError(
            f"template {name} {part} is over the render limit {exc.limit} "
            f"({exc.detail}): make the template or its dynamic_template_data smaller",
            field="template_id",
            help=f"[templates] {exc.limit} in the server's configuration",
        ) from None
    except Exception as exc:  # any failure of a user's template is the user's 400
        raise ValidationError(
            f"template {name} {part} failed to render: {_problem(exc)}", field="template_id"
        ) from None


def check(source: str, *, part: str) -> None:
    """Raise ValidationError on the field `part` when `source` is not a valid template."""
    try:
        _compile(source, True, ContextVar("render_budget", default=None))
    except Exception as exc:
        raise ValidationError(
            f"{part} is not a valid template: {_problem(exc)}", field=part
        ) from None
