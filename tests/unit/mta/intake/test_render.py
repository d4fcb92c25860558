"""Template rendering with Handlebars: escaping, missing values, and errors naming the
template."""

from __future__ import annotations

from typing import Any

import pytest

from mta.errors import ValidationError
from mta.intake.render import render


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
