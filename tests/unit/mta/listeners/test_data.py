"""The bulk DATA reader: where a message ends, what it keeps, and which bytes it refuses."""

from __future__ import annotations

import asyncio

import pytest

from mta.listeners.data import DataBudget, DataFault, fault_in, read_data, unstuff
from tests.support.raw_smtp import SMUGGLING


async def read(
    stream: bytes, limit: int | None = None, chunk: int = 0, budget: DataBudget | None = None
) -> tuple[object, bytes]:
    """read_data over `stream` (fed whole, or in `chunk`-byte pieces); also what is left."""
    reader = asyncio.StreamReader(limit=64)
    pieces = (
        [stream] if not chunk else [stream[i : i + chunk] for i in range(0, len(stream), chunk)]
    )
    for piece in pieces:
        reader.feed_data(piece)
    reader.feed_eof()
    claim = (budget or DataBudget(1 << 20)).claim()
    result = await read_data(reader, limit, claim)
    return result, await reader.read()


@pytest.mark.parametrize("chunk", [0, 1, 2, 3, 7])
@pytest.mark.parametrize(
    ("stream", "content"),
    [
        (b".\r\n", b""),
        (b"\r\n.\r\n", b"\r\n"),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"end.\r\nb\r\n.\r\n", b"end.\r\nb\r\n"),
        (b"..\r\n.\r\n", b"..\r\n"),  # read_data keeps the stuffing; unstuff removes it
        (b"x\r\n.. \r\n..\r\n.\r\n", b"x\r\n.. \r\n..\r\n"),
        (b"a\r\n" + b"b" * 500 + b"\r\n.\r\n", b"a\r\n" + b"b" * 500 + b"\r\n"),
    ],
)
async def test_ends_at_crlf_dot_crlf_only_and_leaves_the_next_command(
    stream: bytes, content: bytes, chunk: int
) -> None:
    result, rest = await read(stream + b"QUIT\r\n", chunk=chunk)
    assert result == content
    assert rest == b"QUIT\r\n"


@pytest.mark.parametrize("sequence", [seq for seq in SMUGGLING if b"\x00" not in seq])
async def test_smuggled_end_of_data_is_one_message_and_refused(sequence: bytes) -> None:
    smuggled = b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<v@example.net>\r\nDATA\r\nx\r\n"
    stream = b"Subject: a\r\n\r\nhi" + sequence + smuggled + b".\r\n"
    result, rest = await read(stream + b"QUIT\r\n")
    assert result is DataFault.BARE_NEWLINE
    assert rest == b"QUIT\r\n"


async def test_nul_is_refused() -> None:
    result, _ = await read(b"a\r\n\x00.\r\nb\r\n.\r\n")
    assert result is DataFault.NUL


@pytest.mark.parametrize(("size", "fault"), [(99, None), (100, None), (101, DataFault.TOO_BIG)])
async def test_size_limit_counts_the_message_without_the_terminator(
    size: int, fault: DataFault | None
) -> None:
    body = b"x" * (size - 2) + b"\r\n"
    result, rest = await read(body + b".\r\nNOOP\r\n", limit=100, chunk=9)
    assert result == (fault or body)
    assert rest == b"NOOP\r\n"


@pytest.mark.parametrize(
    ("raw", "fault"),
    [
        (b"", None),
        (b"a\r\nb\r\n", None),
        (b"a\nb\r\n", DataFault.BARE_NEWLINE),
        (b"a\rb\r\n", DataFault.BARE_NEWLINE),
        (b"a\r\r\n", DataFault.BARE_NEWLINE),
        (b"a\r\n\n", DataFault.BARE_NEWLINE),
        (b"a\x00\r\n", DataFault.NUL),
        (b"x" * 998 + b"\r\n", None),
        (b"x" * 999 + b"\r\n", DataFault.LINE_TOO_LONG),
        (b"a\r\n" + b"x" * 2000 + b"\r\nb\r\n", DataFault.LINE_TOO_LONG),
    ],
)
def test_fault_in(raw: bytes, fault: DataFault | None) -> None:
    assert fault_in(raw) is fault


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        (b"", b""),
        (b"..\r\n", b".\r\n"),
        (b".a\r\n", b"a\r\n"),
        (b"a\r\n..\r\n...b\r\n", b"a\r\n.\r\n..b\r\n"),
        (b"a.\r\nb\r\n", b"a.\r\nb\r\n"),
    ],
)
def test_unstuff(raw: bytes, plain: bytes) -> None:
    assert unstuff(raw) == plain


async def test_the_memory_budget_is_shared_and_given_back() -> None:
    budget = DataBudget(1000)
    holder = budget.claim()
    assert holder.take(600)
    result, rest = await read(b"x" * 500 + b"\r\n.\r\nNOOP\r\n", chunk=100, budget=budget)
    assert result is DataFault.NO_MEMORY and rest == b"NOOP\r\n"
    assert budget.held == 600  # what the refused message took was given back
    holder.release()
    result, _ = await read(b"x" * 500 + b"\r\n.\r\n", chunk=100, budget=budget)
    assert result == b"x" * 500 + b"\r\n"
