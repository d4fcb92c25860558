"""Markup built to make link finding and footers take superlinear time: each is bounded
(hang-guarded, in a fresh interpreter), and what is found is what was found before."""

from __future__ import annotations

import pytest

from mta.tracking.links import complete_markup, find_links, replace_link_tags
from tests.support.bounded import completes

SIZE = 300_000
LINK = '<a href="https://example.com/">x</a>'

FIND = """
from mta.tracking.links import find_links
print(len(find_links({markup})))
"""
FOOTER = """
from mta.tracking.links import replace_link_tags
print(len(replace_link_tags({template}, lambda words: "U")))
"""
SIMULATOR = """
from mta.scheduler.simulator import first_link
html = {markup}
message = b"Content-Type: text/html\\r\\n\\r\\n" + html.encode()
print(first_link(message)[0])
"""


@pytest.mark.parametrize(
    "tail",
    [
        f'"<a " * {SIZE // 3}',  # an unclosed tag rescanned from every later "<"
        f'"<a x=\\"" * {SIZE // 6}',
        f'"<!--" * {SIZE // 4}',
        f'"<b\\n" * {SIZE // 3}',
    ],
)
def test_an_unclosed_tail_does_not_stall_link_finding(tail: str) -> None:
    markup = f"{LINK!r} + {tail}"
    assert completes(FIND.format(markup=markup)).strip() == "1"
    assert completes(SIMULATOR.format(markup=markup)).strip() == "https://example.com/"


@pytest.mark.parametrize(
    "template", [f'"<%" + " " * {SIZE}', f'"<% " * {SIZE // 3}', f'"<% %>" * {SIZE // 5}']
)
def test_footer_link_tags_in_linear_time(template: str) -> None:
    assert completes(FOOTER.format(template=template))


def test_the_parser_sees_every_complete_tag() -> None:
    markup = f"{LINK}<p>{LINK}</p><a href='https://two.example/'"
    assert complete_markup(markup) == f"{LINK}<p>{LINK}</p>"
    assert [link.url for link in find_links(markup)] == ["https://example.com/"] * 2
    assert complete_markup("no tags at all") == ""


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "Bye <% %>.",
            "Bye [].",
        ),
        ("<p><%  click here\t%> now</p>", "<p>[click here] now</p>"),
        ("<% a %><% b %>", "[a][b]"),
        ("<%%>", "[]"),
        ("<%> and <% x %>", "[> and <% x]"),
        ("unclosed <% x", "unclosed <% x"),
        ("<% a %> then <% unclosed", "[a] then <% unclosed"),
        ("line\n<% two\nlines %>", "line\n[two\nlines]"),
    ],
)
def test_link_tags_replaced_as_the_regular_expression_did(template: str, expected: str) -> None:
    assert replace_link_tags(template, lambda words: f"[{words}]") == expected
