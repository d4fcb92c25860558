"""SendGrid's `query=` expressions and the tutorial's parameters, parsed into a MessageFilter;
every bad or hostile query is a ValidationError on `query`, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from mta.errors import ValidationError
from mta.services.message_query import (
    MessageFilter,
    expand_statuses,
    from_parameters,
    parse_query,
    parse_time,
)

JAN1 = 1767225600.0  # 2026-01-01T00:00:00Z
JAN2 = JAN1 + 86400


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('to_email="ada@example.com"', {"to_emails": ["ada@example.com"]}),
        ("to_email='ada@example.com'", {"to_emails": ["ada@example.com"]}),
        ('to_email="Ada@Example.COM"', {"to_emails": ["Ada@example.com"]}),
        ('from_email="news@mail.example.com"', {"from_emails": ["news@mail.example.com"]}),
        ('subject="Your receipt"', {"subjects": ["Your receipt"]}),
        ('subject="say \\"hi\\""', {"subjects": ['say "hi"']}),
        ('subject="it\'s"', {"subjects": ["it's"]}),
        ('msg_id="abc123"', {"msg_ids": ["abc123"]}),
        ('template_id="d-0123"', {"template_ids": ["d-0123"]}),
        ('categories="welcome"', {"categories": ["welcome"]}),
        ('api_key_id="k1"', {"api_key_ids": ["k1"]}),
        ('status="delivered"', {"statuses": ["delivered"]}),
        ('status IN ("delivered", "not_delivered")', {"statuses": ["delivered", "not_delivered"]}),
        ('status in ("delivered","delivered")', {"statuses": ["delivered"]}),
        (
            'to_email="a@x.io" AND status="processed"',
            {"to_emails": ["a@x.io"], "statuses": ["processed"]},
        ),
        ('to_email="a@x.io" and msg_id="m"', {"to_emails": ["a@x.io"], "msg_ids": ["m"]}),
        ('(to_email="a@x.io") AND (msg_id="m")', {"to_emails": ["a@x.io"], "msg_ids": ["m"]}),
        ('((to_email="a@x.io"))', {"to_emails": ["a@x.io"]}),
        # Two conditions on one field: the values both accept.
        ('msg_id IN ("a","b") AND msg_id IN ("b","c")', {"msg_ids": ["b"]}),
        ('msg_id="a" AND msg_id="b"', {"msg_ids": []}),
        (
            'last_event_time BETWEEN TIMESTAMP "2026-01-01T00:00:00Z" '
            'AND TIMESTAMP "2026-01-02T00:00:00Z"',
            {"last_event_after": JAN1, "last_event_before": JAN2},
        ),
        (
            'last_event_time between timestamp "2026-01-01T01:00:00+01:00" '
            'and timestamp "2026-01-02"',
            {"last_event_after": JAN1, "last_event_before": JAN2},
        ),
        ('last_event_time > TIMESTAMP "2026-01-01T00:00:00Z"', {"last_event_after": JAN1}),
        ('last_event_time >= TIMESTAMP "2026-01-01T00:00:00Z"', {"last_event_after": JAN1}),
        ('last_event_time < TIMESTAMP "2026-01-02T00:00:00Z"', {"last_event_before": JAN2}),
        (
            'last_event_time > TIMESTAMP "2026-01-01T00:00:00Z" '
            'AND last_event_time > TIMESTAMP "2026-01-02T00:00:00Z"',
            {"last_event_after": JAN2},
        ),
        ('  to_email = "a@x.io"  ', {"to_emails": ["a@x.io"]}),
    ],
)
def test_parses(query: str, expected: dict[str, Any]) -> None:
    assert parse_query(query) == MessageFilter(**expected)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        'to_email="a@x.io" OR status="delivered"',
        'to_email="a@x.io" AND',
        'AND to_email="a@x.io"',
        'to_email="a@x.io" status="delivered"',
        'to_email="unterminated',
        "to_email=unquoted",
        'nope="1"',
        'TO_EMAIL="a@x.io"',
        'to_email LIKE "a%"',
        'to_email != "a@x.io"',
        'to_email IN "a@x.io"',
        "to_email IN ()",
        'to_email IN ("a",)',
        'to_email IN ("a" "b")',
        'to_email IN ("a", "b"',
        'status="weird"',
        'last_event_time = TIMESTAMP "2026-01-01T00:00:00Z"',
        'last_event_time > "2026-01-01T00:00:00Z"',
        'last_event_time > TIMESTAMP "yesterday"',
        'last_event_time BETWEEN TIMESTAMP "2026-01-01" TIMESTAMP "2026-01-02"',
        'last_event_time BETWEEN TIMESTAMP "2026-01-01" OR TIMESTAMP "2026-01-02"',
        '(to_email="a@x.io"',
        'to_email="a@x.io")',
        "(" * 3000 + 'to_email="a"' + ")" * 3000,
        "(" * 9 + 'to_email="a"' + ")" * 9,
        'to_email="a@x.io"; DROP TABLE messages',
        'to_email="a@x.io" AND 1=1 --',
        'to_email="\x00"\x00',
        'to_email="a" AND ' * 1000 + 'to_email="a"',
        "msg_id IN (" + ",".join(['"x"'] * 101) + ")",
        'subject="' + "x" * 1001 + '"',
        "\u202e" + 'to_email="a@x.io"',
        "$where",
    ],
)
def test_rejects(query: str) -> None:
    with pytest.raises(ValidationError) as raised:
        parse_query(query)
    assert raised.value.field == "query"
    assert raised.value.message.startswith("invalid query: ")


def test_nesting_within_the_limit_is_fine() -> None:
    assert parse_query("(" * 8 + 'msg_id="m"' + ")" * 8).msg_ids == ["m"]


def test_parse_time_takes_naive_times_as_utc() -> None:
    assert parse_time("2026-01-01T00:00:00") == JAN1
    assert parse_time("2026-01-01T00:00:00Z") == JAN1


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, MessageFilter()),
        ({"to_email": None, "status": ""}, MessageFilter()),
        ({"to_email": "Ada@Example.com"}, MessageFilter(to_emails=["Ada@example.com"])),
        (
            {"status": "delivered", "categories": "welcome"},
            MessageFilter(statuses=["delivered"], categories=["welcome"]),
        ),
        ({"last_event_time_after": str(JAN1)}, MessageFilter(last_event_after=JAN1)),
        ({"last_event_time_before": "2026-01-02T00:00:00Z"}, MessageFilter(last_event_before=JAN2)),
    ],
)
def test_from_parameters(params: dict[str, str | None], expected: MessageFilter) -> None:
    assert from_parameters(params) == expected


def test_parameters_narrow_a_query() -> None:
    base = parse_query('msg_id IN ("a", "b")')
    assert from_parameters({"msg_id": "b", "status": "delivered"}, base) == MessageFilter(
        msg_ids=["b"], statuses=["delivered"]
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
