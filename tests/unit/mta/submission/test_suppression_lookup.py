"""Concurrent suppression lookups share one query, and each caller gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

import pytest

from mta.submission.suppression_lookup import CoalescedLookup


class CountingLookup:
    """Answers from a table, one query at a time, counting the queries."""

    def __init__(self, table: dict[str, set[str]], fail: bool = False) -> None:
        self.table = table
        self.queries: list[frozenset[str]] = []
        self.fail = fail

    async def lookup(
        self, account_id: str, emails: Collection[str], group_id: int | None
    ) -> dict[str, set[str]]:
        self.queries.append(frozenset(emails))
        await asyncio.sleep(0.01)  # a query takes a while: others arrive meanwhile
        if self.fail:
            raise OSError("database unavailable")
        return {e: self.table[e] for e in emails if e in self.table}

    async def require_group(self, account_id: str, group_id: int) -> None:
        return None


async def test_concurrent_lookups_share_queries_and_get_their_own_answers() -> None:
    inner = CountingLookup({"b1@x.test": {"bounces"}, "u7@x.test": {"unsubscribes"}})
    lookup = CoalescedLookup(inner)
    answers = await asyncio.gather(
        *(lookup.lookup("acct", [f"B{n}@x.test".lower(), f"u{n}@x.test"], None) for n in range(10))
    )
    assert answers[1] == {"b1@x.test": {"bounces"}}
    assert answers[7] == {"u7@x.test": {"unsubscribes"}}
    assert all(answers[n] == {} for n in (0, 2, 3, 4, 5, 6, 8, 9))
    assert [len(q) for q in inner.queries] == [20]  # all ten arrived before it ran: one query


async def test_lookups_arriving_during_a_query_go_out_together_after_it() -> None:
    inner = CountingLookup({"late3@x.test": {"spam_reports"}})
    lookup = CoalescedLookup(inner)
    first = asyncio.create_task(lookup.lookup("acct", ["early@x.test"], None))
    await asyncio.sleep(0.001)  # the first query is running now
    late = await asyncio.gather(
        *(lookup.lookup("acct", [f"late{n}@x.test"], None) for n in range(5))
    )
    assert await first == {}
    assert late[3] == {"late3@x.test": {"spam_reports"}} and late[0] == {}
    assert [len(q) for q in inner.queries] == [1, 5]


async def test_accounts_and_groups_are_never_mixed_in_one_query() -> None:
    inner = CountingLookup({})
    lookup = CoalescedLookup(inner)
    await asyncio.gather(
        lookup.lookup("a", ["x@x.test"], None),
        lookup.lookup("b", ["y@x.test"], None),
        lookup.lookup("a", ["z@x.test"], 7),
    )
    assert sorted(map(sorted, inner.queries)) == [["x@x.test"], ["y@x.test"], ["z@x.test"]]


async def test_a_failed_query_fails_every_caller_waiting_on_it() -> None:
    lookup = CoalescedLookup(CountingLookup({}, fail=True))
    results = await asyncio.gather(
        *(lookup.lookup("a", [f"{n}@x.test"], None) for n in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    with pytest.raises(OSError):  # and the next lookup runs (and fails) on its own
        await lookup.lookup("a", ["n@x.test"], None)
