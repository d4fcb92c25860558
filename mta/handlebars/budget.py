"""The render budget: steps (data lookups, block iterations, helper calls, text emitted),
output size and a deadline, charged from inside the interpreter as it runs; over any of
them a render stops with RenderLimitExceeded naming the limit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, overload

import msgspec
from dotpromptz_handlebars import (
    Block,
    ElseNode,
    HelperFn,
    HelperOptions,
    InlinePartial,
    Node,
    PartialBlock,
    Text,
)

Clock = Callable[[], float]


class RenderLimits(msgspec.Struct, frozen=True, kw_only=True):
    """What one render (one part of one personalization) may cost."""

    max_steps: int = 200_000
    max_output_bytes: int = 10_485_760
    max_seconds: float = 1.0


class RenderLimitExceeded(Exception):
    """A render went over `limit` (max_steps, max_output_bytes or max_seconds)."""

    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(f"{limit}: {detail}")
        self.limit = limit
        self.detail = detail


class Budget:
    """What one render has spent; `charge` raises as soon as a limit is passed. The clock
    is read at every charge, so the deadline holds however the time is spent."""

    __slots__ = ("_clock", "_deadline", "_limits", "output", "steps")

    def __init__(self, limits: RenderLimits, clock: Clock = time.monotonic) -> None:
        self._limits = limits
        self._clock = clock
        self._deadline = clock() + limits.max_seconds
        self.steps = 0
        self.output = 0

    def charge(self, steps: int = 1, size: int = 0) -> None:
        self.steps += steps
        self.output += size
        limits = self._limits
        if self.steps > limits.max_steps:
            raise RenderLimitExceeded("max_steps", f"more than {limits.max_steps} steps")
        if self.output > limits.max_output_bytes:
            self.over_size()
        if self._clock() > self._deadline:
            raise RenderLimitExceeded(
                "max_seconds", f"still rendering after {limits.max_seconds:g} s"
            )

    def over_size(self) -> None:
        raise RenderLimitExceeded(
            "max_output_bytes", f"more than {self._limits.max_output_bytes} bytes of output"
        )

    def check_output(self, text: str) -> None:
        """The finished text against the size limit, in UTF-8 bytes."""
        cap = self._limits.max_output_bytes
        if len(text) > cap or (len(text) * 4 > cap and len(text.encode("utf-8", "replace")) > cap):
            self.over_size()


def metered(value: Any, budget: Budget) -> Any:
    """`value` as the interpreter may read it: a string is charged its length (it is likely
    to be emitted), objects and lists are wrapped so each read of them is charged."""
    if isinstance(value, str):
        budget.charge(1, len(value))
        return value
    budget.charge()
    if isinstance(value, dict):
        return MeteredMapping(value, budget)
    if isinstance(value, list | tuple):
        return MeteredSequence(value, budget)
    return value


class MeteredMapping(Mapping[str, Any]):
    """A JSON object of the template data; every key read or listed costs a step."""

    __slots__ = ("_budget", "_data")

    def __init__(self, data: dict[str, Any], budget: Budget) -> None:
        self._data = data
        self._budget = budget

    def __getitem__(self, key: str) -> Any:
        return metered(self._data[key], self._budget)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        for key in self._data:
            self._budget.charge()
            yield key

    def __len__(self) -> int:
        return len(self._data)


class MeteredSequence(Sequence[Any]):
    """A JSON list of the template data; every item read (so every `{{#each}}` iteration)
    costs a step."""

    __slots__ = ("_budget", "_data")

    def __init__(self, data: list[Any] | tuple[Any, ...], budget: Budget) -> None:
        self._data = data
        self._budget = budget

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return MeteredSequence(self._data[index], self._budget)
        return metered(self._data[index], self._budget)

    def __iter__(self) -> Iterator[Any]:
        for item in self._data:
            yield metered(item, self._budget)

    def __len__(self) -> int:
        return len(self._data)


class MeteredText(Text):
    """Template text that charges the running render (found in `current`) each time it is
    emitted: a loop over plain text costs what it writes."""

    __slots__ = ("_current", "_text")

    def __init__(self, text: str, current: ContextVar[Budget | None]) -> None:
        self._text = text
        self._current = current

    @property
    def value(self) -> str:  # type: ignore[override]
        budget = self._current.get()
        if budget is not None:
            budget.charge(1, len(self._text))
        return self._text


def meter_program(nodes: list[Node], current: ContextVar[Budget | None]) -> None:
    """Replace, in place, every text node of a parsed template by a MeteredText."""
    for index, node in enumerate(nodes):
        if type(node) is Text:
            nodes[index] = MeteredText(node.value, current)
        elif isinstance(node, Block):
            meter_program(node.body, current)
            meter_program(node.inverse, current)
        elif isinstance(node, ElseNode | InlinePartial | PartialBlock):
            meter_program(node.body, current)


def metered_helper(helper: HelperFn, current: ContextVar[Budget | None]) -> HelperFn:
    """`helper` charging a step per call to the running render."""

    def call(args: list[Any], options: HelperOptions) -> Any:
        budget = current.get()
        if budget is not None:
            budget.charge()
        return helper(args, options)

    return call
