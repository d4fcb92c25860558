"""formatDate: every token SendGrid lists, the instants it accepts (epoch seconds or
milliseconds, ISO 8601) and the UTC offsets, as tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mta.handlebars.dates import format_date, format_tokens, parse_instant, parse_offset

# SendGrid's table uses 2020-01-01 15:00:00 at -08:00 (23:00 UTC), which was a Wednesday.
PST = "-0800"
INSTANT = "2020-01-01T23:00:00.000Z"


@pytest.mark.parametrize(
    ("token", "shown"),
    [
        ("YYYY", "2020"),
        ("YY", "20"),
        ("MMMM", "January"),
        ("MMM", "Jan"),
        ("MM", "01"),
        ("M", "1"),
        ("DD", "01"),
        ("D", "1"),
        ("dddd", "Wednesday"),
        ("ddd", "Wed"),
        ("hh", "03"),
        ("h", "3"),
        ("HH", "15"),
        ("H", "15"),
        ("mm", "00"),
        ("m", "0"),
        ("ss", "00"),
        ("s", "0"),
        ("A", "PM"),
        ("ZZ", "-0800"),
        ("Z", "-08:00"),
    ],
)
def test_each_token(token: str, shown: str) -> None:
    assert format_date(INSTANT, token, PST) == shown


@pytest.mark.parametrize(
    ("value", "fmt", "offset", "expected"),
    [
        (INSTANT, "MMMM DD, YYYY h:mm:ss A", None, "January 01, 2020 11:00:00 PM"),
        (INSTANT, "MMMM DD, YYYY h:mm:ss A", PST, "January 01, 2020 3:00:00 PM"),
        (INSTANT, "MMMM DD, YYYY h:mm:ss A", "-08:00", "January 01, 2020 3:00:00 PM"),
        (INSTANT, "YYYY-MM-DD HH:mm", "+0530", "2020-01-02 04:30"),
        (INSTANT, "D/M/YY", "+0100", "2/1/20"),
        (1577919600, "YYYY-MM-DD HH:mm:ss", None, "2020-01-01 23:00:00"),
        (1577919600000, "YYYY-MM-DD HH:mm:ss", None, "2020-01-01 23:00:00"),
        ("1577919600", "YYYY-MM-DD", None, "2020-01-01"),
        (1577919600.5, "ss", None, "00"),
        ("2020-01-01T23:00:00+01:00", "HH:mm Z", None, "22:00 +00:00"),
        ("2020-01-01", "dddd, MMMM D", None, "Wednesday, January 1"),
        ("2020-01-01 00:30:00", "h:mm A", None, "12:30 AM"),
        ("2020-01-01T12:05:09Z", "h:m:s A", None, "12:5:9 PM"),
        (INSTANT, "[Today is] dddd", PST, "Today is Wednesday"),
        (INSTANT, "YYYY-MM-DD at HH", PST, "2020-01-01 at 15"),
        (INSTANT, "[the] D", PST, "the 1"),
        (INSTANT, "the D", PST, "t3e 1"),  # letters that are tokens need brackets
        (INSTANT, None, None, "2020-01-01T23:00:00+00:00"),
        (INSTANT, "", PST, "2020-01-01T15:00:00-08:00"),
        (None, "YYYY", None, ""),
        ("", "YYYY", PST, ""),
    ],
)
def test_format_date(value: Any, fmt: Any, offset: Any, expected: str) -> None:
    assert format_date(value, fmt, offset) == expected


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("-0800", timedelta(hours=-8)),
        ("+05:30", timedelta(hours=5, minutes=30)),
        ("+0000", timedelta(0)),
        ("Z", timedelta(0)),
        ("-1200", timedelta(hours=-12)),
    ],
)
def test_offsets(text: str, delta: timedelta) -> None:
    assert parse_offset(text) == timezone(delta)


@pytest.mark.parametrize("text", ["0800", "-8", "-08", "+2400", "+0560", "EST", "-08:00:00", ""])
def test_bad_offsets(text: str) -> None:
    with pytest.raises(ValueError, match="offset"):
        parse_offset(text)


@pytest.mark.parametrize("value", ["tomorrow", "2020-13-01", True, "1e400", [2020], 1e30])
def test_bad_instants(value: Any) -> None:
    with pytest.raises(ValueError, match="formatDate"):
        parse_instant(value)


def test_naive_iso_dates_are_utc() -> None:
    assert parse_instant("2020-01-01T23:00:00") == datetime(2020, 1, 1, 23, tzinfo=UTC)


def test_text_around_tokens_is_kept() -> None:
    moment = datetime(2021, 7, 4, 9, 8, 7, tzinfo=UTC)
    assert format_tokens(moment, "on dddd [the] D. (T+0) at HH:mm:ss!") == (
        "on Sunday the 4. (T+0) at 09:08:07!"
    )
