"""Template rendering with Handlebars: escaping, missing values, and errors naming the
template."""

from __future__ import annotations

from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.handlebars.render import CompiledTemplates, check, render


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("Hi {{name}}!", {"name": "Ann"}, "Hi Ann!"),
        ("Hi {{name}}!", {"name": "<b>Ann</b>"}, "Hi &lt;b&gt;Ann&lt;/b&gt;!"),
        ("{{v}}", {"v": "a & b"}, "a &amp; b"),
        ("{{v}}", {"v": '"quoted"'}, "&quot;quoted&quot;"),
        ("{{v}}", {"v": "<script>alert(1)</script>"}, "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("Hi {{{name}}}!", {"name": "<b>Ann</b>"}, "Hi <b>Ann</b>!"),
        ("{{{v}}}", {"v": "a & b"}, "a & b"),
        ("Hi {{name}}!", {}, "Hi !"),
        ("Hi {{{name}}}!", {}, "Hi !"),
        ("{{user.first}} {{user.last}}", {"user": {"first": "A"}}, "A "),
        ("{{missing.deeply.nested}}.", {}, "."),
        ("{{n}}", {"n": 42}, "42"),
        ("{{#if vip}}VIP{{else}}regular{{/if}}", {"vip": True}, "VIP"),
        ("{{#if vip}}VIP{{else}}regular{{/if}}", {}, "regular"),
        ("{{#each items}}[{{this}}]{{/each}}", {"items": ["a", "<b>"]}, "[a][&lt;b&gt;]"),
        ("{{#each items}}[{{name}}]{{/each}}", {"items": [{"name": "x"}, {"name": "y"}]}, "[x][y]"),
        ("no placeholders", {"unused": 1}, "no placeholders"),
        ("", {}, ""),
    ],
)
def test_render_html(source: str, data: dict[str, Any], expected: str) -> None:
    assert render(source, data, template_id="d-1", part="html") == expected


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("Order for {{name}}", {"name": "Tom & Jerry <tj@x>"}, "Order for Tom & Jerry <tj@x>"),
        ("{{{name}}}", {"name": "<b>"}, "<b>"),
    ],
)
def test_render_without_html_escaping(source: str, data: dict[str, Any], expected: str) -> None:
    assert render(source, data, template_id="d-1", part="subject", escape_html=False) == expected


@pytest.mark.parametrize(
    ("source", "part"),
    [
        ("{{#if x}}never closed", "html"),
        ("{{", "subject"),
        ("{{/if}}", "plain"),
        ("{{#each items}}x{{/if}}", "html"),
        ("{{> missing_partial}}", "html"),
    ],
)
@pytest.mark.parametrize("template_id", ["d-0123456789abcdef", "tpl-42"])
def test_broken_template_names_the_template(source: str, part: str, template_id: str) -> None:
    with pytest.raises(ValidationError) as failure:
        render(source, {"items": []}, template_id=template_id, part=part)
    assert failure.value.message.startswith(f"template {template_id} {part} failed to render: ")
    assert failure.value.field == "template_id"


# Templates are written by account users: nothing in one reaches beyond the data given.
@pytest.mark.parametrize(
    "source",
    [
        "{{constructor}}",
        "{{__proto__}}",
        "{{constructor.constructor}}",
        "{{name.__class__}}",
        "{{name.__class__.__mro__}}",
        "{{name.upper}}",
        "{{items.__len__}}",
        "{{items.append}}",
        "{{this.__dict__}}",
        "{{[__class__]}}",
        "{{name.[__class__]}}",
        "{{lookup name '__class__'}}",
        "{{lookup this '__globals__'}}",
        "{{lookup (lookup this 'name') 'upper'}}",
        "{{@root.__class__}}",
        "{{../../../etc/passwd}}",
        "{{#with name}}{{upper}}{{/with}}",
        "{{#each name}}{{this}}{{/each}}",
        "{{#with items}}{{pop}}{{/with}}",
    ],
)
def test_templates_reach_only_the_data(source: str) -> None:
    data = {"name": "ann", "items": [1, 2]}
    assert render(source, data, template_id="d-1", part="html") == ""
    assert data == {"name": "ann", "items": [1, 2]}


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("{{a.[0]}}{{a.[1].b}}", {"a": ["x", {"b": "y"}]}, "xy"),
        ("{{lookup a 1}}", {"a": ["x", "y"]}, "y"),
        ("{{[weird key]}}", {"weird key": "ok"}, "ok"),
        ("{{__proto__}}", {"__proto__": "own key"}, "own key"),  # a key of the data is data
    ],
)
def test_paths_into_the_data(source: str, data: dict[str, Any], expected: str) -> None:
    assert render(source, data, template_id="d-1", part="html") == expected


@pytest.mark.parametrize(
    "source",
    [
        '{{#*inline "loop"}}{{> loop}}{{/inline}}{{> loop}}',
        '{{~ #*inline "x"}}y{{/inline}}',
        "{{> header}}",
        "{{log name}}",  # would print recipients' data to the server log
        "{{#if a}}" * 60 + "x" + "{{/if}}" * 60,
        "{{unknownHelper name}}",
    ],
)
def test_refused_constructs_are_render_errors(source: str) -> None:
    with pytest.raises(ValidationError) as failure:
        render(source, {"name": "n", "a": True}, template_id="d-9", part="html")
    assert failure.value.field == "template_id"
    assert failure.value.message.startswith("template d-9 html failed to render: ")


def test_nesting_within_the_limit_renders() -> None:
    source = "{{#if a}}" * 30 + "deep" + "{{/if}}" * 30
    assert render(source, {"a": True}, template_id="d-1", part="html") == "deep"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("'", "&#x27;"),
        ("`", "&#x60;"),
        ("=", "&#x3D;"),
        ('<a href="x">', "&lt;a href&#x3D;&quot;x&quot;&gt;"),
        (True, "true"),
        (1.5, "1.5"),
        (2.0, "2"),
        (None, ""),
    ],
)
def test_escaping_and_scalar_text(value: Any, expected: str) -> None:
    assert render("{{v}}", {"v": value}, template_id="d-1", part="html") == expected


def test_check_accepts_valid_and_names_the_field_of_invalid() -> None:
    check("Hi {{#if a}}{{name}}{{/if}}", part="subject")
    with pytest.raises(ValidationError) as failure:
        check("Hi {{#if a}}", part="html_content")
    assert failure.value.field == "html_content"
    assert failure.value.message.startswith("html_content is not a valid template: ")


def test_compiled_templates_are_parsed_once_and_render_each_data_alone() -> None:
    cache = CompiledTemplates(size=2)
    source = "{{#each items}}{{this}};{{/each}}{{name}}"
    first = render(
        source, {"items": [1, 2], "name": "a"}, template_id="d-1", part="html", compiled=cache
    )
    second = render(source, {"name": "b"}, template_id="d-1", part="html", compiled=cache)
    assert (first, second) == ("1;2;a", "b")  # nothing of the first data leaks into the second
    assert cache.get(source, True) is cache.get(source, True)
    cache.get("{{x}}", True)
    cache.get("{{y}}", True)  # the least recently used (`source`) goes
    assert cache.get(source, True) is not cache.get("{{x}}", True)
    assert len(cache._compiled) == 2


def test_a_cached_template_that_fails_still_names_the_template() -> None:
    cache = CompiledTemplates()
    with pytest.raises(ValidationError, match="template d-9 html failed to render"):
        render("{{#if}}", {}, template_id="d-9", part="html", compiled=cache)
