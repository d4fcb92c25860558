"""SendGrid's X-SMTPAPI header on SMTP submission: find it, decode it into a typed Struct and
strip it from the message; a malformed header raises ValidationError (SMTP 550 5.6.0).
Its `filters` are decoded by mta.submission.smtp_message.smtpapi_filters."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from mta.submission.mime import HEADER_END
from mta.submission.schedule import MAX_AHEAD_SECONDS, TOO_FAR_AHEAD
from mta.submission.send_request.request import field_path, is_utf8
from mta.submission.send_request.validate import MAX_CATEGORIES
from mta.submission.smtp_message.smtpapi_filters import (
    FilterNames,
    Filters,
    check_bypasses,
    check_filter_names,
    invalid,
    switch_words,
)

T = TypeVar("T")
MAX_BYTES = 10_000  # SendGrid: "up to 10,000 bytes"
# The field with its folded continuation lines and line break, anchored at a line start.
FIELD = re.compile(rb"^x-smtpapi[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)\n?", re.I | re.M)
UNFOLD = re.compile(rb"\r?\n(?=[ \t])")
# SendGrid features this MTA does not implement: refused, never silently dropped.
UNSUPPORTED = (
    ("to", "per-recipient copies from `to` are not supported; list recipients in RCPT TO"),
    ("sub", "substitutions (`sub`) are not supported"),
    ("section", "sections (`section`) are not supported"),
    ("send_each_at", "`send_each_at` is not supported"),
)


class SmtpApi(msgspec.Struct, kw_only=True):
    """The header's JSON object (SendGrid's names). Keys we do not know are ignored, as newer
    SendGrid keys may be; `to`, `sub`, `section`, `send_each_at` decode only to be refused."""

    category: str | list[str] = msgspec.field(default_factory=list)
    unique_args: dict[str, str] = msgspec.field(default_factory=dict)
    send_at: int | None = None
    asm_group_id: int | None = None  # its unsubscribe group, as `asm.group_id` over HTTP
    ip_pool: str | None = None  # one pool of outbound addresses here: accepted, ignored
    filters: Filters = msgspec.field(default_factory=Filters)
    to: Any = msgspec.UNSET
    sub: Any = msgspec.UNSET
    section: Any = msgspec.UNSET
    send_each_at: Any = msgspec.UNSET

    @property
    def categories(self) -> list[str]:
        return [self.category] if isinstance(self.category, str) else list(self.category)


def read_smtpapi(data: bytes, *, now: float) -> tuple[SmtpApi, bytes]:
    """The message's X-SMTPAPI instructions and the message without the header.

    Without the header: an empty SmtpApi and `data` unchanged. `now` (Unix seconds) judges send_at.
    """
    end = HEADER_END.search(data)
    fields = list(FIELD.finditer(data, 0, end.end() if end else len(data)))
    if not fields:
        return SmtpApi(), data
    if len(fields) > 1:
        raise invalid("the header may appear only once")
    api = decode_smtpapi(fields[0].group(1))
    check_smtpapi(api, now=now)
    return api, data[: fields[0].start()] + data[fields[0].end() :]


def decode_smtpapi(raw: bytes) -> SmtpApi:
    """The header's value (folded or not) decoded; ValidationError names what is wrong."""
    value = UNFOLD.sub(b"", raw).strip()
    if len(value) > MAX_BYTES:
        raise invalid(f"the header is larger than {MAX_BYTES} bytes")
    api = _decode(value, SmtpApi)
    check_filter_names(_decode(value, FilterNames))
    return api


def _decode(value: bytes, kind: type[T]) -> T:
    try:
        return msgspec.json.decode(value, type=kind)
    except msgspec.ValidationError as exc:
        text, path = field_path(str(exc))
        text = switch_words(text, path)
        raise invalid(f"{text.rstrip('.')} (at {path})" if path else text) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        if not is_utf8(value):  # older msgspec raises UnicodeDecodeError, 0.23 DecodeError
            raise invalid("not valid UTF-8") from None
        raise invalid(f"not valid JSON ({exc})") from None


def check_smtpapi(api: SmtpApi, *, now: float) -> None:
    """What the types cannot say: supported keys, category count and text, send_at."""
    for key, reason in UNSUPPORTED:
        if getattr(api, key) is not msgspec.UNSET:
            raise invalid(reason)
    check_bypasses(api.filters)
    categories = api.categories
    if len(categories) > MAX_CATEGORIES:
        raise invalid(f"too many categories (at most {MAX_CATEGORIES})")
    if any(char in category for category in categories for char in "\r\n\0"):
        raise invalid("categories may not contain CR, LF or NUL")
    if api.send_at is not None and api.send_at > now + MAX_AHEAD_SECONDS:
        raise invalid(TOO_FAR_AHEAD)
