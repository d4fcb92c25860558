"""The render budget: steps, output size and a deadline read from an injected clock, each
refused with an error naming the template, its version and the limit; legitimate
templates are not affected."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import pytest
from dotpromptz_handlebars import HelperOptions

from mta.core.errors import ValidationError
from mta.handlebars.budget import (
    Budget,
    RenderLimitExceeded,
    RenderLimits,
    metered,
    metered_helper,
)
from mta.handlebars.render import CompiledTemplates, render

A100 = list(range(100))
NESTED = "{{#each a}}{{#each ../a}}{{#each ../../a}}<p>{{this}}</p>{{/each}}{{/each}}{{/each}}"


class FakeClock:
    """Time that moves `tick` seconds each time it is read."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick
        self.reads = 0

    def __call__(self) -> float:
        self.now += self.tick
        self.reads += 1
        return self.now


def templates(clock: FakeClock | None = None, **limits: Any) -> CompiledTemplates:
    return CompiledTemplates(limits=RenderLimits(**limits), clock=clock or FakeClock())


def limit_of(call: Any) -> str:
    with pytest.raises(RenderLimitExceeded) as raised:
        call()
    return raised.value.limit


def test_nested_loops_stop_at_the_step_limit() -> None:
    compiled = templates(max_steps=5_000)
    assert limit_of(lambda: compiled.render(NESTED, {"a": list(range(100))})) == "max_steps"


def test_the_deadline_is_read_inside_the_render_from_the_injected_clock() -> None:
    clock = FakeClock(tick=0.01)  # each step "takes" 10 ms
    compiled = templates(clock, max_seconds=0.5)
    data = {"a": list(range(10))}
    assert limit_of(lambda: compiled.render(NESTED, data)) == "max_seconds"
    # about 50 reads of the clock: stopped at the deadline, not at the end of the render
    assert 40 < clock.reads < 70


def test_a_frozen_clock_never_trips_the_deadline() -> None:
    compiled = templates(FakeClock(tick=0.0), max_seconds=0.001)
    out = compiled.render(NESTED, {"a": [1, 2]})
    assert out.count("<p>") == 8


@pytest.mark.parametrize(
    ("source", "data"),
    [
        ("{{#each a}}{{../big}}{{/each}}", {"a": list(range(50)), "big": "x" * 1000}),
        ("{{#each a}}" + "y" * 1000 + "{{/each}}", {"a": list(range(50))}),  # template text
        # a million iterations of text alone: stopped by its size, long before the clock
        ("{{#each a}}{{#each ../a}}{{#each ../../a}}zz{{/each}}{{/each}}{{/each}}", {"a": A100}),
    ],
)
def test_output_over_the_size_limit_stops_while_rendering(source: str, data: Any) -> None:
    clock = FakeClock(tick=0.001)
    compiled = templates(clock, max_output_bytes=20_000, max_steps=10**9, max_seconds=100)
    assert limit_of(lambda: compiled.render(source, data)) == "max_output_bytes"


def test_the_finished_text_is_measured_in_utf8_bytes() -> None:
    compiled = templates(max_output_bytes=3_000)
    assert compiled.render("{{v}}", {"v": "é" * 1400}) == "é" * 1400
    assert limit_of(lambda: compiled.render("{{v}}", {"v": "é" * 1600})) == "max_output_bytes"


def test_helper_calls_cost_a_step_each() -> None:
    current: ContextVar[Budget | None] = ContextVar("b", default=None)
    helper = metered_helper(lambda args, options: "ok", current)
    budget = Budget(RenderLimits(max_steps=3), FakeClock())
    current.set(budget)
    options = HelperOptions(hash={}, fn=None, inverse=None, data={}, context=None)  # type: ignore[arg-type]
    for _ in range(3):
        assert helper([], options) == "ok"
    with pytest.raises(RenderLimitExceeded):
        helper([], options)


def test_every_read_of_the_data_is_charged() -> None:
    budget = Budget(RenderLimits(max_steps=1_000), FakeClock())
    data = metered({"a": [{"b": "xyz"}, 2], "n": 1}, budget)
    assert list(data) == ["a", "n"] and "a" in data and len(data["a"]) == 2
    assert data["a"][0]["b"] == "xyz" and list(data["a"])[1] == 2
    assert budget.steps == 10 and budget.output == 3


def test_the_error_names_the_template_its_version_and_the_limit() -> None:
    with pytest.raises(ValidationError) as raised:
        render(
            NESTED,
            {"a": list(range(100))},
            template_id="d-abc",
            version="v-1",
            part="html_content",
            compiled=templates(max_steps=1_000),
        )
    assert raised.value.field == "template_id"
    assert "d-abc version v-1 html_content" in raised.value.message
    assert "max_steps" in raised.value.message


def test_defaults_leave_a_long_legitimate_template_alone() -> None:
    source = (
        "<h1>Hi {{name}}</h1>{{#each items}}<li>{{@index}}. {{title}} "
        "{{#if (greaterThan qty 1)}}x{{qty}}{{/if}} {{formatDate at 'YYYY'}}</li>{{/each}}"
        "{{#each groups}}{{#each this}}<i>{{this}}</i>{{/each}}{{/each}}"
    )
    data = {
        "name": "Ann",
        "items": [{"title": f"t{i}", "qty": i, "at": "2020-01-01T00:00:00Z"} for i in range(500)],
        "groups": [[f"g{i}-{j}" for j in range(30)] for i in range(30)],
    }
    out = CompiledTemplates(clock=FakeClock()).render(source, data)
    assert out.count("<li>") == 500 and out.count("<i>") == 900
