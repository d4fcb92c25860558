"""SendGrid's Handlebars helpers, rendered through the template engine with the examples of
SendGrid's "Using Handlebars" page (output compared with whitespace collapsed), plus the
edges of each helper's coercion rules."""

from __future__ import annotations

from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.handlebars.helpers import insert, length, loosely_equal, truthy
from mta.handlebars.render import render


def flat(text: str) -> str:
    return " ".join(text.split())


def html(source: str, data: dict[str, Any]) -> str:
    return flat(render(source, data, template_id="d-doc", part="html_content"))


SCORE = (
    "<p>Hello Ben! {{#greaterThan scoreOne scoreTwo}} Congratulations, you have the high score"
    " today! {{/greaterThan}} Thanks for playing.</p>"
)
SCORE_ELSE = (
    "<p>Hello Ben! {{#greaterThan scoreOne scoreTwo}} high {{else}} close {{/greaterThan}}"
    " Thanks.</p>"
)
LESS = "<p>{{#lessThan scoreOne scoreTwo}}close{{else}}high{{/lessThan}}</p>"
EQUALS = (
    "<p>Hello Ben! {{#equals customerCode winningCode}} You have a winning code."
    " {{else}} You do not have a winning code. {{/equals}} Thanks for playing.</p>"
)
NOT_EQUALS = "<p>{{#notEquals currentDate appointmentDate}}not today{{else}}today{{/notEquals}}</p>"
AND = "<p>{{#and favoriteFood favoriteDrink}}thanks{{else}}survey{{/and}}.</p>"
OR = "<p>{{#or isRunner isCyclist}}map{{else}}survey{{/or}}.</p>"
LENGTH = "<p>{{#greaterThan (length cartItems) 0}}cart{{else}}browse{{/greaterThan}}</p>"
INSERT = (
    '<p>Hello {{insert name "default=Customer"}}! Thank you for contacting us about'
    ' {{insert businessName "your business"}}.</p>'
)
FORMAT = "<p>Join us {{formatDate timeStamp dateFormat}}</p>"
FORMAT_TZ = "<p>Join us {{formatDate timeStamp dateFormat timezoneOffset}}</p>"
DATE = {
    "timeStamp": "2020-01-01T23:00:00.000Z",
    "dateFormat": "MMMM DD, YYYY h:mm:ss A",
    "timezoneOffset": "-0800",
}
IF_ELSE_IF = (
    "{{#if user.profile.male}}<p>Dear Sir</p>{{else if user.profile.female}}<p>Dear Madame</p>"
    "{{else}}<p>Dear Customer</p>{{/if}}"
)
ROOT = (
    "{{#if user.suspended}}<p>Warning! Your account is suspended, please call:"
    " {{@root.supportPhone}}</p>{{/if}}"
)
UNLESS = "{{#unless user.active}}<p>Call {{@root.supportPhone}}</p>{{/unless}}"
EACH = (
    "<ol>{{#each user.orderHistory}}<li>You ordered: {{this.item}} on: {{this.date}}</li>"
    "{{/each}}</ol>"
)
ORDERS = {
    "user": {
        "orderHistory": [{"date": "2/1/2018", "item": "shoes"}, {"date": "1/4/2017", "item": "hat"}]
    }
}

DOCUMENTED = [
    ("<p>Hello {{ firstName }}</p>", {"firstName": "Ben"}, "<p>Hello Ben</p>"),
    (
        '<p><a href="{{ url }}">Click Me</a></p>',
        {"url": "https://example.com/shop"},
        '<p><a href="https://example.com/shop">Click Me</a></p>',
    ),
    (
        "<p>Hello {{user.profile.firstName}}</p>",
        {"user": {"profile": {"firstName": "Ben"}}},
        "<p>Hello Ben</p>",
    ),
    ("<p>Hello {{user.profile.firstName}}</p>", ORDERS, "<p>Hello </p>"),
    (
        "<p>Hello {{{firstName}}}</p>",
        {"firstName": "<strong>Ben</strong>"},
        "<p>Hello <strong>Ben</strong></p>",
    ),
    (FORMAT, DATE, "<p>Join us January 01, 2020 11:00:00 PM</p>"),
    (FORMAT_TZ, DATE, "<p>Join us January 01, 2020 3:00:00 PM</p>"),
    (
        INSERT,
        {"name": "Ben", "businessName": "Twilio SendGrid"},
        "<p>Hello Ben! Thank you for contacting us about Twilio SendGrid.</p>",
    ),
    (
        INSERT,
        {"name": "Ben"},
        "<p>Hello Ben! Thank you for contacting us about your business.</p>",
    ),
    (INSERT, {}, "<p>Hello Customer! Thank you for contacting us about your business.</p>"),
    (IF_ELSE_IF, {"user": {"profile": {"male": True}}}, "<p>Dear Sir</p>"),
    (IF_ELSE_IF, {"user": {"profile": {"female": True}}}, "<p>Dear Madame</p>"),
    (IF_ELSE_IF, {"user": {"profile": {}}}, "<p>Dear Customer</p>"),
    (
        ROOT,
        {"user": {"suspended": True}, "supportPhone": "1-800-555-5555"},
        "<p>Warning! Your account is suspended, please call: 1-800-555-5555</p>",
    ),
    (ROOT, {"user": {"suspended": False}, "supportPhone": "1"}, ""),
    (UNLESS, {"user": {"active": False}, "supportPhone": "1-800"}, "<p>Call 1-800</p>"),
    (UNLESS, {"user": {"active": True}, "supportPhone": "1-800"}, ""),
    (
        SCORE,
        {"scoreOne": 100, "scoreTwo": 78},
        "<p>Hello Ben! Congratulations, you have the high score today! Thanks for playing.</p>",
    ),
    (SCORE, {"scoreOne": 55, "scoreTwo": 78}, "<p>Hello Ben! Thanks for playing.</p>"),
    (SCORE_ELSE, {"scoreOne": 100, "scoreTwo": 78}, "<p>Hello Ben! high Thanks.</p>"),
    (SCORE_ELSE, {"scoreOne": 55, "scoreTwo": 78}, "<p>Hello Ben! close Thanks.</p>"),
    (SCORE_ELSE, {"scoreOne": 78, "scoreTwo": 78}, "<p>Hello Ben! close Thanks.</p>"),
    (LESS, {"scoreOne": 55, "scoreTwo": 78}, "<p>close</p>"),
    (LESS, {"scoreOne": 100, "scoreTwo": 78}, "<p>high</p>"),
    (LESS, {"scoreOne": "9", "scoreTwo": "10"}, "<p>close</p>"),  # numbers, not strings
    (
        EQUALS,
        {"customerCode": 289199, "winningCode": 289199},
        "<p>Hello Ben! You have a winning code. Thanks for playing.</p>",
    ),
    (
        EQUALS,
        {"customerCode": 167320, "winningCode": 289199},
        "<p>Hello Ben! You do not have a winning code. Thanks for playing.</p>",
    ),
    (
        EQUALS,
        {"customerCode": "289199", "winningCode": 289199},
        "<p>Hello Ben! You have a winning code. Thanks for playing.</p>",
    ),
    (NOT_EQUALS, {"currentDate": 20230715, "appointmentDate": 20230715}, "<p>today</p>"),
    (NOT_EQUALS, {"currentDate": 20230710, "appointmentDate": 20230715}, "<p>not today</p>"),
    (NOT_EQUALS, {"currentDate": "3", "appointmentDate": 3}, "<p>today</p>"),
    (AND, {"favoriteFood": "Pasta", "favoriteDrink": ""}, "<p>survey.</p>"),
    (AND, {"favoriteFood": "Pasta", "favoriteDrink": "Coffee"}, "<p>thanks.</p>"),
    (AND, {"favoriteFood": "Pasta", "favoriteDrink": 0}, "<p>survey.</p>"),
    (AND, {"favoriteFood": "Pasta", "favoriteDrink": -1}, "<p>thanks.</p>"),
    (OR, {"isRunner": True, "isCyclist": False}, "<p>map.</p>"),
    (OR, {"isRunner": False, "isCyclist": False}, "<p>survey.</p>"),
    (OR, {"isRunner": False, "isCyclist": True}, "<p>map.</p>"),
    (OR, {"isRunner": 0.0, "isCyclist": ""}, "<p>survey.</p>"),
    (LENGTH, {"cartItems": ["raft", "water bottle", "sleeping bag"]}, "<p>cart</p>"),
    (LENGTH, {"cartItems": []}, "<p>browse</p>"),
    (LENGTH, {}, "<p>browse</p>"),
    (
        EACH,
        ORDERS,
        "<ol><li>You ordered: shoes on: 2/1/2018</li><li>You ordered: hat on: 1/4/2017</li></ol>",
    ),
    (
        "{{#if people}}<p>People:</p>{{#each people}}<p>{{this.name}}</p>{{/each}}{{/if}}",
        {"people": [{"name": "Bob"}, {"name": "Sally"}]},
        "<p>People:</p><p>Bob</p><p>Sally</p>",
    ),
    (
        "{{#each user.story}}{{#if this.male}}<p>{{this.date}}</p>{{else if this.female}}"
        "<p>{{this.item}}</p>{{/if}}{{/each}}",
        {
            "user": {
                "story": [
                    {"male": True, "date": "2/1/2018", "item": "shoes"},
                    {"male": True, "date": "1/4/2017", "item": "hat"},
                    {"female": True, "date": "1/1/2016", "item": "shirt"},
                ]
            }
        },
        "<p>2/1/2018</p><p>1/4/2017</p><p>shirt</p>",
    ),
]


@pytest.mark.parametrize(("source", "data", "expected"), DOCUMENTED)
def test_sendgrid_documented_examples(source: str, data: dict[str, Any], expected: str) -> None:
    assert html(source, data) == flat(expected)


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("{{#if (equals a b)}}same{{else}}different{{/if}}", {"a": 3, "b": "3"}, "same"),
        ("{{#if (notEquals a b)}}different{{/if}}", {"a": "x", "b": "y"}, "different"),
        ("{{#if (and a (or b c))}}yes{{else}}no{{/if}}", {"a": 1, "b": 0, "c": "x"}, "yes"),
        ("{{#if (greaterThan (length s) 3)}}long{{else}}short{{/if}}", {"s": "abcd"}, "long"),
        (
            "{{length s}} {{length items}} {{length n}}",
            {"s": "héllo", "items": [1], "n": 5},
            "5 1 0",
        ),
        ("{{equals a b}}", {"a": 1, "b": 2}, "false"),
        ("{{#each items}}{{@index}}:{{this}};{{/each}}", {"items": ["a", "b"]}, "0:a;1:b;"),
        (
            "{{#each items}}{{#if @first}}[{{/if}}{{this}}{{#if @last}}]{{/if}}{{/each}}",
            {"items": [1, 2]},
            "[12]",
        ),
        (
            "{{#each items}}{{../title}}-{{name}} {{/each}}",
            {"title": "T", "items": [{"name": "x"}]},
            "T-x",
        ),
        ("{{#greaterThan a b}}yes{{else}}no{{/greaterThan}}", {"a": "abc", "b": 1}, "no"),
        ("{{#greaterThan a b}}yes{{else}}no{{/greaterThan}}", {}, "no"),
        ("{{insert missing}}|", {}, "|"),
        ("{{insert name default='Friend'}}", {}, "Friend"),
        ("{{insert name 'x'}}", {"name": "<b>"}, "&lt;b&gt;"),
        ("{{formatDate when 'YYYY-MM-DD'}}", {"when": 1577919600}, "2020-01-01"),
        ("{{formatDate when 'YYYY-MM-DD'}}", {}, ""),
        ("{{#equals a null}}none{{else}}some{{/equals}}", {}, "none"),
    ],
)
def test_helpers_compose(source: str, data: dict[str, Any], expected: str) -> None:
    assert html(source, data) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{#equals a}}x{{/equals}}",
        "{{#greaterThan 1 2 3}}x{{/greaterThan}}",
        "{{length}}",
        "{{#and}}x{{/and}}",
        "{{formatDate d 'YYYY' 'not-an-offset'}}",
        "{{formatDate 'yesterday' 'YYYY'}}",
        "{{insert}}",
    ],
)
def test_helper_misuse_is_a_render_error_naming_the_template(source: str) -> None:
    with pytest.raises(ValidationError) as failure:
        render(source, {"d": 0}, template_id="d-x", part="html_content")
    assert failure.value.field == "template_id"
    assert "d-x html_content" in failure.value.message


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (3, "3", True),
        ("3", 3.0, True),
        (True, 1, True),
        ("true", True, False),
        ("a", "a", True),
        ("a", "A", False),
        (None, None, True),
        (None, "", False),
        (0, "", False),
        ([1], [1], True),
        ({"a": 1}, {"a": 1}, True),
    ],
)
def test_loose_equality(left: Any, right: Any, equal: bool) -> None:
    assert loosely_equal(left, right) is equal
    assert loosely_equal(right, left) is equal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", False),
        ("0", True),
        (0, False),
        (0.0, False),
        (-1, True),
        (0.5, True),
        (None, False),
        (False, False),
        ([], False),
        ({}, False),
        ([0], True),
        ("x", True),
    ],
)
def test_truthiness_as_sendgrid_documents(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("Ben", "default=Customer", "Ben"),
        (None, "default=Customer", "Customer"),
        ("", "Customer", "Customer"),
        (0, "x", 0),
        (None, None, ""),
        (None, 5, ""),
    ],
)
def test_insert(value: Any, default: Any, expected: Any) -> None:
    assert insert(value, default) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc", 3), ("", 0), ([1, 2], 2), ([], 0), ({"a": 1}, 0), (12, 0), (None, 0)],
)
def test_length(value: Any, expected: int) -> None:
    assert length(value) == expected
