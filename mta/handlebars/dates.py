"""SendGrid's `formatDate` as pure functions: parse an epoch or ISO 8601 instant, parse a
UTC offset like "-0800", and format with SendGrid's tokens (YYYY, MMMM, DD, h, A, ZZ …)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_FORMAT = "YYYY-MM-DDTHH:mm:ssZ"
# SendGrid's tokens, longest first so "MMMM" wins over "MM"; other text is kept, and
# "[...]" keeps letters that would be tokens ("[at]").
TOKEN_RE = re.compile(r"\[[^\]]*\]|YYYY|YY|MMMM|MMM|MM|M|DD|D|dddd|ddd|HH|H|hh|h|mm|m|ss|s|A|ZZ|Z")
OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
# Epoch numbers above this are milliseconds (1e11 seconds is the year 5138).
MILLISECONDS_ABOVE = 1e11


def parse_instant(value: Any) -> datetime:
    """An aware datetime from epoch seconds or milliseconds, or an ISO 8601 string (UTC
    when it names no offset)."""
    if isinstance(value, bool):
        raise ValueError(f"formatDate: {value!r} is not a date")
    if isinstance(value, int | float):
        return _from_epoch(float(value))
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"formatDate: {text!r} is not an ISO 8601 date or epoch") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _from_epoch(seconds: float) -> datetime:
    if abs(seconds) > MILLISECONDS_ABOVE:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"formatDate: {seconds!r} is out of range") from None


def parse_offset(value: Any) -> timezone:
    """A fixed offset from "-0800", "+05:30" or "Z"."""
    text = str(value).strip()
    if text in ("Z", "z", "UTC"):
        return UTC
    match = OFFSET_RE.match(text)
    if match is None:
        raise ValueError(f"formatDate: {text!r} is not a UTC offset like -0800")
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24) or int(minutes) >= 60:
        raise ValueError(f"formatDate: {text!r} is not a UTC offset like -0800")
    return timezone(-delta if sign == "-" else delta)


def _offset_text(moment: datetime, colon: bool) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}{':' if colon else ''}{minutes % 60:02d}"


def _token(moment: datetime, token: str) -> str:
    hour12 = moment.hour % 12 or 12
    values = {
        "YYYY": f"{moment.year:04d}",
        "YY": f"{moment.year % 100:02d}",
        "MMMM": MONTHS[moment.month - 1],
        "MMM": MONTHS[moment.month - 1][:3],
        "MM": f"{moment.month:02d}",
        "M": str(moment.month),
        "DD": f"{moment.day:02d}",
        "D": str(moment.day),
        "dddd": WEEKDAYS[moment.weekday()],
        "ddd": WEEKDAYS[moment.weekday()][:3],
        "HH": f"{moment.hour:02d}",
        "H": str(moment.hour),
        "hh": f"{hour12:02d}",
        "h": str(hour12),
        "mm": f"{moment.minute:02d}",
        "m": str(moment.minute),
        "ss": f"{moment.second:02d}",
        "s": str(moment.second),
        "A": "AM" if moment.hour < 12 else "PM",
        "ZZ": _offset_text(moment, colon=False),
        "Z": _offset_text(moment, colon=True),
    }
    return values[token]


def format_tokens(moment: datetime, fmt: str) -> str:
    """`fmt` with every token replaced; other characters (and "[text]") are kept."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        return token[1:-1] if token.startswith("[") else _token(moment, token)

    return TOKEN_RE.sub(replace, fmt)


def format_date(value: Any, fmt: Any = None, offset: Any = None) -> str:
    """formatDate: the instant shown in `offset` (UTC when absent) with SendGrid's tokens;
    a missing date shows as empty."""
    if value is None or value == "":
        return ""
    moment = parse_instant(value)
    zone = parse_offset(offset) if offset not in (None, "") else UTC
    pattern = fmt if isinstance(fmt, str) and fmt else DEFAULT_FORMAT
    return format_tokens(moment.astimezone(zone), pattern)
