"""Legacy substitutions and sections: one pass, longest tag first, bounded output, and
bounded work (tags times characters searched)."""

from __future__ import annotations

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.submission.send_request.compose import render_parts
from mta.submission.send_request.request import MailSend
from mta.submission.send_request.substitutions import (
    MAX_SUBSTITUTION_WORK,
    check_work,
    substitute,
    substitution_table,
)


@pytest.mark.parametrize(
    ("text", "table", "expected"),
    [
        ("Hello -name-!", {"-name-": "Ada"}, "Hello Ada!"),
        ("-a- and -a-", {"-a-": "x"}, "x and x"),
        ("nothing here", {"-a-": "x"}, "nothing here"),
        ("", {"-a-": "x"}, ""),
        ("-a-", {}, "-a-"),
        ("-a-", {"": "never"}, "-a-"),  # an empty tag would match between every character
        # one pass: a value that holds a tag is not substituted again
        ("-a- -b-", {"-a-": "-b-", "-b-": "B"}, "-b- B"),
        ("-name-", {"-name-": "-name--name-"}, "-name--name-"),
        # the longest tag wins where tags overlap
        ("-name-full-", {"-name-": "N", "-name-full-": "F"}, "F"),
        ("%first%%last%", {"%first%": "Ada", "%last%": "Lovelace"}, "AdaLovelace"),
        # tags are literal text, not patterns
        ("a.b a+b", {"a.b": "dot", "a+b": "plus"}, "dot plus"),
        ("[x]", {"[x]": "y"}, "y"),
        ("line\n-a-\n", {"-a-": "one\ntwo"}, "line\none\ntwo\n"),
    ],
)
def test_substitute(text: str, table: dict[str, str], expected: str) -> None:
    assert substitute(text, table) == expected


def test_substitute_refuses_output_past_the_limit() -> None:
    text = "-a-" * 1000
    assert substitute(text, {"-a-": "xyz"}, limit=3000) == "xyz" * 1000
    with pytest.raises(ValidationError) as failure:
        substitute(text, {"-a-": "xyzw"}, limit=3999, field="personalizations.2.substitutions")
    assert failure.value.field == "personalizations.2.substitutions"
    assert "larger than 3999 characters" in failure.value.message


def test_substitute_shrinking_never_hits_the_limit() -> None:
    assert substitute("-long-tag-" * 100, {"-long-tag-": ""}, limit=10) == ""


@pytest.mark.parametrize(
    ("substitutions", "sections", "expected"),
    [
        ({}, {}, {}),
        ({"-name-": "Ada"}, {}, {"-name-": "Ada"}),
        # a substitution naming a section becomes the section, with substitutions made in it
        (
            {"-name-": "Ada", "-greeting-": "%hello%"},
            {"%hello%": "Hello, -name-!", "%bye%": "Bye"},
            {
                "-name-": "Ada",
                "-greeting-": "Hello, Ada!",
                "%hello%": "Hello, Ada!",
                "%bye%": "Bye",
            },
        ),
        # one level: a section naming another section is not expanded
        ({"-g-": "%a%"}, {"%a%": "%b%", "%b%": "B"}, {"-g-": "%b%", "%a%": "%b%", "%b%": "B"}),
        # a substitution and a section with one tag: the substitution wins
        ({"%s%": "sub"}, {"%s%": "section"}, {"%s%": "sub"}),
        (
            {"%s%": "sub", "-g-": "%s%"},
            {"%s%": "section"},
            {"%s%": "sub", "-g-": "section"},
        ),
    ],
)
def test_substitution_table(
    substitutions: dict[str, str], sections: dict[str, str], expected: dict[str, str]
) -> None:
    assert substitution_table(substitutions, sections) == expected


def test_sections_and_substitutions_end_to_end() -> None:
    table = substitution_table(
        {"-name-": "Ada", "-greeting-": "%formal%"},
        {"%formal%": "Dear -name-,", "%casual%": "Hi -name-!"},
    )
    body = "-greeting-\nYour order shipped. %casual%"
    assert substitute(body, table) == "Dear Ada,\nYour order shipped. Hi Ada!"


def test_tags_times_characters_searched_are_bounded() -> None:
    field = "personalizations.3.substitutions"
    tags = {f"-{i}-": "" for i in range(1000)}
    check_work(tags, {}, ["x" * 100_000], field)  # 10^8: allowed
    with pytest.raises(ValidationError) as raised:
        check_work(tags, {}, ["x" * (MAX_SUBSTITUTION_WORK // 1000 + 1)], field)
    assert raised.value.field == field
    sections = {"%s%": "y" * 150_000}  # section text is searched too (for substitutions)
    with pytest.raises(ValidationError):
        check_work(tags, sections, ["x" * 50_000], field)


def test_render_parts_refuses_substitution_work_past_the_bound() -> None:
    tags = {f"-{i}-": "" for i in range(1500)}  # 7,890 bytes: within SendGrid's 10,000
    request = msgspec.convert(
        {
            "personalizations": [{"to": [{"email": "a@example.com"}], "substitutions": tags}],
            "from": {"email": "f@example.com"},
            "subject": "s",
            "content": [{"type": "text/plain", "value": "x" * 200_000}],
        },
        MailSend,
    )
    with pytest.raises(ValidationError) as raised:
        render_parts(request, request.personalizations[0], None)
    assert raised.value.field == "personalizations.0.substitutions"
