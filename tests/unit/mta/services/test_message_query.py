"""SendGrid's `query=` expressions and the tutorial's parameters, parsed into the filter tree
(And / Or / Not over Match, Like, TimeRange): precedence, escapes, limits; every bad or
hostile query is a ValidationError on `query` naming the token, never a crash."""

from __future__ import annotations

import pytest

from mta.core.errors import ValidationError
from mta.services.message_filter import (
    NO_FILTER,
    And,
    Like,
    Match,
    MessageFilter,
    Not,
    Or,
    TimeRange,
)
from mta.services.message_query import (
    MAX_CONDITIONS,
    expand_statuses,
    from_parameters,
    parse_query,
    parse_time,
)
from mta.services.message_where import glob_pattern

JAN1 = 1767225600.0  # 2026-01-01T00:00:00Z
JAN2 = JAN1 + 86400
A = Match("msg_id", ("a",))
B = Match("msg_id", ("b",))
C = Match("msg_id", ("c",))
D = Match("msg_id", ("d",))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('to_email="ada@example.com"', Match("to_email", ("ada@example.com",))),
        ("to_email='ada@example.com'", Match("to_email", ("ada@example.com",))),
        ('to_email="Ada@Example.COM"', Match("to_email", ("Ada@example.com",))),
        ('from_email="n@mail.example.com"', Match("from_email", ("n@mail.example.com",))),
        ('subject="Your receipt"', Match("subject", ("Your receipt",))),
        ('subject="say \\"hi\\""', Match("subject", ('say "hi"',))),
        ('subject="it\'s"', Match("subject", ("it's",))),
        ('template_id="d-0123"', Match("template_id", ("d-0123",))),
        ('categories="welcome"', Match("categories", ("welcome",))),
        ('api_key_id="k1"', Match("api_key_id", ("k1",))),
        ('status="delivered"', Match("status", ("delivered",))),
        (
            'status IN ("delivered", "not_delivered")',
            Match("status", ("delivered", "not_delivered")),
        ),
        ('status in ("delivered","delivered")', Match("status", ("delivered",))),
        ('msg_id="a" AND msg_id="b"', And((A, B))),
        ('msg_id="a" and msg_id="b"', And((A, B))),
        ('(msg_id="a") AND (msg_id="b")', And((A, B))),
        ('((msg_id="a"))', A),
        ('  msg_id = "a"  ', A),
        # OR, NOT, their precedence (NOT > AND > OR) and parentheses.
        ('msg_id="a" OR msg_id="b"', Or((A, B))),
        ('msg_id="a" or msg_id="b" OR msg_id="c"', Or((A, B, C))),
        ('msg_id="a" OR msg_id="b" AND msg_id="c"', Or((A, And((B, C))))),
        ('msg_id="a" AND msg_id="b" OR msg_id="c"', Or((And((A, B)), C))),
        ('(msg_id="a" OR msg_id="b") AND msg_id="c"', And((Or((A, B)), C))),
        (
            'msg_id="a" AND (msg_id="b" OR msg_id="c" AND msg_id="d")',
            And((A, Or((B, And((C, D)))))),
        ),
        ('NOT msg_id="a"', Not(A)),
        ('not msg_id="a" AND msg_id="b"', And((Not(A), B))),
        ('NOT msg_id="a" OR msg_id="b"', Or((Not(A), B))),
        ('NOT (msg_id="a" OR msg_id="b")', Not(Or((A, B)))),
        ('NOT NOT msg_id="a"', A),
        ('NOT NOT NOT msg_id="a"', Not(A)),
        ('msg_id="a" AND NOT msg_id="b"', And((A, Not(B)))),
        # != , NOT IN, LIKE, NOT LIKE, Contains.
        ('msg_id != "a"', Not(A)),
        ('status NOT IN ("bounced", "dropped")', Not(Match("status", ("bounced", "dropped")))),
        ('subject LIKE "Receipt%"', Like("subject", "Receipt%")),
        ('subject like "%receipt"', Like("subject", "%receipt")),
        ('subject NOT LIKE "%a_b%"', Not(Like("subject", "%a_b%"))),
        ('to_email LIKE "%@Example.COM"', Like("to_email", "%@example.com")),
        ('categories LIKE "pro%"', Like("categories", "pro%")),
        # `\_` and `\%` in a LIKE literal stay escaped; so does `\\_` (BigQuery's spelling).
        ('subject LIKE "a\\_b"', Like("subject", "a\\_b")),
        ('subject LIKE "a\\\\_b"', Like("subject", "a\\_b")),
        ('subject LIKE "100\\%"', Like("subject", "100\\%")),
        ('subject LIKE "a\\\\\\\\%"', Like("subject", "a\\\\%")),
        ('subject LIKE "say \\"hi\\"%"', Like("subject", 'say "hi"%')),
        ('Contains(categories, "welcome")', Match("categories", ("welcome",))),
        ('CONTAINS(categories,"welcome")', Match("categories", ("welcome",))),
        ('NOT Contains(categories, "promo")', Not(Match("categories", ("promo",)))),
        # Times.
        (
            'last_event_time BETWEEN TIMESTAMP "2026-01-01T00:00:00Z" '
            'AND TIMESTAMP "2026-01-02T00:00:00Z"',
            TimeRange(JAN1, JAN2),
        ),
        (
            'last_event_time between timestamp "2026-01-01T01:00:00+01:00" '
            'and timestamp "2026-01-02"',
            TimeRange(JAN1, JAN2),
        ),
        (
            'last_event_time NOT BETWEEN TIMESTAMP "2026-01-01" AND TIMESTAMP "2026-01-02"',
            Not(TimeRange(JAN1, JAN2)),
        ),
        ('last_event_time > TIMESTAMP "2026-01-01T00:00:00Z"', TimeRange(after=JAN1)),
        ('last_event_time >= TIMESTAMP "2026-01-01T00:00:00Z"', TimeRange(after=JAN1)),
        ('last_event_time < TIMESTAMP "2026-01-02T00:00:00Z"', TimeRange(before=JAN2)),
        ('last_event_time <= TIMESTAMP "2026-01-02T00:00:00Z"', TimeRange(before=JAN2)),
        (
            'status="delivered" OR last_event_time BETWEEN TIMESTAMP "2026-01-01" '
            'AND TIMESTAMP "2026-01-02" AND msg_id="a"',
            Or((Match("status", ("delivered",)), And((TimeRange(JAN1, JAN2), A)))),
        ),
    ],
)
def test_parses(query: str, expected: MessageFilter) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ('to_email="a@x.io" AND', "ends too early"),
        ('to_email="a@x.io" OR', "ends too early"),
        ('AND to_email="a@x.io"', "'AND'"),
        ('OR to_email="a@x.io"', "'OR'"),
        ('NOT OR to_email="a@x.io"', "'OR'"),
        ('to_email="a@x.io" AND OR msg_id="b"', "'OR'"),
        ('to_email="a@x.io" status="delivered"', "'status'"),
        ('to_email="unterminated', "offset"),
        ("to_email=unquoted", "'unquoted'"),
        ('nope="1"', "'nope'"),
        ('TO_EMAIL="a@x.io"', "'TO_EMAIL'"),
        ('to_email IN "a@x.io"', "parentheses"),
        ("to_email IN ()", "')'"),
        ('to_email IN ("a",)', "')'"),
        ('to_email IN ("a" "b")', "'b'"),
        ('to_email IN ("a", "b"', "ends too early"),
        ('to_email NOT "a"', "'a'"),
        ('to_email NOT = "a"', "'='"),
        ('to_email == "a"', "'='"),
        ('to_email <> "a"', "'<'"),
        ('to_email LIKE ("a%")', "'('"),
        ('status LIKE "deliv%"', "'LIKE'"),
        ('status="weird"', "'weird'"),
        ('status != "weird"', "'weird'"),
        ('status NOT IN ("delivered", "weird")', "'weird'"),
        ('subject LIKE "a\\\\"', "lone backslash"),
        ('subject LIKE "a\\\\\\\\\\\\"', "lone backslash"),
        ('Contains(subject, "x")', "'subject'"),
        ('Contains("categories", "x")', "'categories'"),
        ('Contains(categories "x")', "'x'"),
        ('Contains(categories, "x"', "ends too early"),
        ("Contains(categories, x)", "'x'"),
        ('last_event_time = TIMESTAMP "2026-01-01T00:00:00Z"', "'='"),
        ('last_event_time > "2026-01-01T00:00:00Z"', "TIMESTAMP"),
        ('last_event_time > TIMESTAMP "yesterday"', "'yesterday'"),
        ('last_event_time BETWEEN TIMESTAMP "2026-01-01" TIMESTAMP "2026-01-02"', "AND"),
        ('last_event_time BETWEEN TIMESTAMP "2026-01-01" OR TIMESTAMP "2026-01-02"', "'OR'"),
        ('last_event_time NOT > TIMESTAMP "2026-01-01"', "'NOT'"),
        ('(to_email="a@x.io"', "ends too early"),
        ('to_email="a@x.io")', "')'"),
        ('NOT (to_email="a@x.io"', "ends too early"),
        ("()", "')'"),
        ("NOT", "ends too early"),
        ("(" * 3000 + 'to_email="a"' + ")" * 3000, "longer than"),
        ("(" * 9 + 'to_email="a"' + ")" * 9, "nested"),
        ('msg_id="a" OR (' * 9 + 'msg_id="b"' + ")" * 9, "nested"),
        ('to_email="a@x.io"; DROP TABLE messages', "offset"),
        ('to_email="a@x.io" AND 1=1 --', "offset"),
        ('to_email="a@x.io" OR 1=1', "offset"),
        ('to_email="\x00"\x00', "offset"),
        ('to_email="a" AND ' * 1000 + 'to_email="a"', "longer than"),
        ('msg_id="a" OR ' * MAX_CONDITIONS + 'msg_id="a"', "conditions"),
        ("msg_id IN (" + ",".join(['"x"'] * 101) + ")", "100 values"),
        ('subject="' + "x" * 1001 + '"', "too long"),
        ("\u202e" + 'to_email="a@x.io"', "offset"),
        ("$where", "offset"),
    ],
)
def test_rejects(query: str, names: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_query(query)
    assert raised.value.field == "query"
    assert raised.value.message.startswith("invalid query: ")
    assert names in raised.value.message


def test_nesting_within_the_limits_is_fine() -> None:
    assert parse_query("(" * 8 + 'msg_id="a"' + ")" * 8) == A
    assert parse_query("NOT " * 200 + 'msg_id="a"') == A  # NOTs do not nest the parser
    many = " OR ".join(['msg_id="a"'] * MAX_CONDITIONS)
    assert parse_query(many) == Or((A,) * MAX_CONDITIONS)


@pytest.mark.parametrize(
    ("like", "glob"),
    [
        ("ada%", "ada*"),
        ("%@example.com", "*@example.com"),
        ("%receipt%", "*receipt*"),
        ("a_c", "a?c"),
        ("a\\_c", "a_c"),
        ("100\\%", "100%"),
        ("a\\\\%", "a\\*"),
        ("what?*[x]", "what[?][*][[]x]"),
        ("\\a", "a"),
    ],
)
def test_like_patterns_become_the_same_globs(like: str, glob: str) -> None:
    assert glob_pattern(like) == glob


def test_parse_time_takes_naive_times_as_utc() -> None:
    assert parse_time("2026-01-01T00:00:00") == JAN1
    assert parse_time("2026-01-01T00:00:00Z") == JAN1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, NO_FILTER),
        ({"to_email": None, "status": ""}, NO_FILTER),
        ({"to_email": "Ada@Example.com"}, Match("to_email", ("Ada@example.com",))),
        (
            {"status": "delivered", "categories": "welcome"},
            And((Match("status", ("delivered",)), Match("categories", ("welcome",)))),
        ),
        ({"last_event_time_after": str(JAN1)}, TimeRange(after=JAN1)),
        ({"last_event_time_before": "2026-01-02T00:00:00Z"}, TimeRange(before=JAN2)),
    ],
)
def test_from_parameters(params: dict[str, str | None], expected: MessageFilter) -> None:
    assert from_parameters(params) == expected


def test_parameters_narrow_a_query() -> None:
    base = parse_query('msg_id="a" OR msg_id="b"')
    assert from_parameters({"msg_id": "b", "status": "delivered"}, base) == And(
        (Or((A, B)), B, Match("status", ("delivered",)))
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "weird"}, "status"),
        ({"last_event_time_after": "nan"}, "last_event_time_after"),
        ({"last_event_time_after": "inf"}, "last_event_time_after"),
        ({"last_event_time_before": "soon"}, "last_event_time_before"),
    ],
)
def test_bad_parameters_name_their_field(params: dict[str, str | None], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        from_parameters(params)
    assert raised.value.field == field


def test_not_delivered_covers_every_settled_failure() -> None:
    assert expand_statuses(["not_delivered", "delivered"]) == [
        "not_delivered",
        "bounced",
        "dropped",
        "delivered",
    ]
