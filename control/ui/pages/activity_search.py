"""The Activity page's search form as a message-log filter: its fields and the advanced
`query=` text built into one mta.services.message_query tree (pure), so the page searches
exactly as `GET /v3/messages` does and over the same indexes."""

from __future__ import annotations

import re
from collections.abc import Mapping

import msgspec

from mta.core.errors import ValidationError
from mta.services.message_filter import And, Like, MessageFilter, TimeRange
from mta.services.message_query import STATUSES, from_parameters, parse_query, parse_time

FIELDS = ("to_email", "subject", "status", "categories", "after", "before", "query")
STATUS_CHOICES = tuple(sorted(STATUSES))
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Search(msgspec.Struct, frozen=True):
    """What the form asked, as typed (kept in the URL, shown back in the form)."""

    to_email: str = ""
    subject: str = ""  # the start of the subject
    status: str = ""
    categories: str = ""
    after: str = ""  # a day (YYYY-MM-DD) or a time: sent on or after
    before: str = ""  # a day (through its end) or a time: sent on or before
    query: str = ""  # the advanced query, SendGrid's `query=` language

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in FIELDS)

    def as_query(self) -> dict[str, str]:
        """The non-empty fields, as the page's query string keeps them."""
        return {name: getattr(self, name) for name in FIELDS if getattr(self, name)}


def search_of(query: Mapping[str, str]) -> Search:
    return Search(**{name: str(query.get(name, "")).strip() for name in FIELDS})


def message_filter(search: Search) -> MessageFilter:
    """The search as one filter; a ValidationError names the form field at fault."""
    base: list[MessageFilter] = []
    if search.query:
        base.append(parse_query(search.query))
    if search.subject:
        base.append(Like("subject", like_escaped(search.subject) + "%"))
    if search.after or search.before:
        base.append(sent_between(search.after, search.before))
    return from_parameters(
        {
            "to_email": search.to_email or None,
            "status": search.status or None,
            "categories": search.categories or None,
        },
        And(tuple(base)) if base else None,
    )


def sent_between(after: str, before: str) -> TimeRange:
    """When the message was accepted, the days inclusive (UTC)."""
    return TimeRange(
        after=_moment(after, "after"),
        before=_moment(end_of_day(before), "before"),
        field="created_at",
    )


def _moment(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        return parse_time(text)
    except ValidationError:
        raise ValidationError(
            f"{text!r} is not a day (YYYY-MM-DD) or an ISO 8601 time", field=field
        ) from None


def end_of_day(text: str) -> str:
    """A bare day means through its last instant (UTC); a time is taken as given."""
    return f"{text}T23:59:59.999999Z" if _DAY.fullmatch(text) else text


def like_escaped(text: str) -> str:
    """`text` matched literally in a LIKE pattern (escape character: backslash)."""
    return re.sub(r"([\\%_])", r"\\\1", text)
