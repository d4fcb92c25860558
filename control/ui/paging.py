"""Pagination for every dashboard list: the page asked for in the query string, the slice
to fetch (one row more than shown, to know whether a next page exists), the links."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar
from urllib.parse import urlencode

import msgspec

T = TypeVar("T")
PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 10_000  # deeper than anyone clicks; keeps OFFSET bounded


class Paging(msgspec.Struct, frozen=True):
    number: int = 1  # 1-based
    size: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def fetch(self) -> int:
        """How many rows to ask for: one more than shown."""
        return self.size + 1


class Shown(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    paging: Paging
    has_next: bool
    query: dict[str, str]  # the rest of the query string, kept by the links
    path: str = ""  # the list's own path ("": the page's), so links never name a form's POST

    @property
    def previous_link(self) -> str | None:
        return self._link(self.paging.number - 1) if self.paging.number > 1 else None

    @property
    def next_link(self) -> str | None:
        return self._link(self.paging.number + 1) if self.has_next else None

    def _link(self, number: int) -> str:
        query = {**self.query, "page": str(number)}
        if self.paging.size != PER_PAGE:
            query["per_page"] = str(self.paging.size)
        return f"{self.path}?{urlencode(query)}"


def paging_of(query: Mapping[str, str]) -> Paging:
    """The page the query string asks for; nonsense is the first page, sizes are clamped."""
    return Paging(
        _clamped(query.get("page"), 1, MAX_PAGE, 1),
        _clamped(query.get("per_page"), 1, MAX_PER_PAGE, PER_PAGE),
    )


def shown(rows: Sequence[T], paging: Paging, query: Mapping[str, str], path: str = "") -> Shown[T]:
    """`rows` fetched with `paging.fetch` rows from `paging.offset` as one page; `path` for a
    list a form post may render (its links must lead back to the list, not the post)."""
    rest = {k: v for k, v in query.items() if k not in ("page", "per_page") and v}
    return Shown(list(rows[: paging.size]), paging, len(rows) > paging.size, rest, path)


def shown_from_all(
    rows: Sequence[T], paging: Paging, query: Mapping[str, str], path: str = ""
) -> Shown[T]:
    """One page of a list that the service returns whole (small per-account lists)."""
    return shown(rows[paging.offset : paging.offset + paging.fetch], paging, query, path)


def _clamped(text: str | None, low: int, high: int, default: int) -> int:
    try:
        value = int(text or "")
    except ValueError:
        return default
    return min(max(value, low), high)
