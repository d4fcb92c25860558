"""Reading an SMTP DATA section in bulk, up to CRLF.CRLF and nothing else, and judging its
bytes: the size limit, line lengths, and no bare CR, bare LF or NUL (the smuggling defence).
"""

from __future__ import annotations

import asyncio
import enum

END_OF_DATA = b"\r\n.\r\n"
MAX_LINE = 1000  # octets including CRLF (RFC 5321 4.5.3.1.6)


class DataFault(enum.Enum):
    """Why a DATA section is refused; the value is the reply."""

    TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
    LINE_TOO_LONG = "500 5.5.2 Line too long (see RFC 5321 4.5.3.1.6)"
    BARE_NEWLINE = "521 5.5.2 Error: bare <CR> or <LF> received; lines must end with <CR><LF>"
    NUL = "554 5.6.0 Error: NUL character in message data"
    NO_MEMORY = "452 4.3.1 Insufficient system storage, try again later"


class DataBudget:
    """The bytes of message data that all sessions together may hold in memory while they
    receive (slow clients each sending a large message must not exhaust RAM)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def claim(self) -> Claim:
        return Claim(self)


class Claim:
    """One DATA section's share of the budget; `release` returns it."""

    def __init__(self, budget: DataBudget) -> None:
        self._budget = budget
        self.held = 0

    def take(self, size: int) -> bool:
        if self._budget.held + size > self._budget.limit:
            return False
        self._budget.held += size
        self.held += size
        return True

    def release(self) -> None:
        self._budget.held -= self.held
        self.held = 0


async def read_data(
    reader: asyncio.StreamReader, size_limit: int | None, claim: Claim
) -> bytes | DataFault:
    """The raw DATA section after the 354 reply, terminator excluded but its leading CRLF
    kept (so the last line keeps its ending). A message over `size_limit`, or one the memory
    budget cannot hold (`claim`), is read to its end and discarded.

    Reads whole runs of lines ending in ".\\r\\n" rather than line by line: the last five
    bytes received (the DATA command's own CRLF counting as the first two) tell the end.
    """
    kept: list[bytes] = []
    size = 0
    tail = b"\r\n"
    fault: DataFault | None = None
    while True:
        try:
            piece = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as overrun:
            piece = await reader.readexactly(overrun.consumed)
        size += len(piece)
        if fault is None and size_limit is not None and size - 3 > size_limit:
            fault = DataFault.TOO_BIG
        if fault is None and not claim.take(len(piece)):
            fault = DataFault.NO_MEMORY
        if fault is None:
            kept.append(piece)
        elif kept:
            kept.clear()
            claim.release()
        tail = (tail + piece)[-len(END_OF_DATA) :]
        if tail == END_OF_DATA:
            break
    if fault is not None:
        return fault
    raw = b"".join(kept)[:-3]
    return fault_in(raw) or raw


def fault_in(raw: bytes) -> DataFault | None:
    """What is wrong with a DATA section's bytes (before dot-unstuffing), if anything."""
    if b"\x00" in raw:
        return DataFault.NUL
    lines = raw.split(b"\r\n")
    endings = len(lines) - 1
    if raw.count(b"\n") != endings or raw.count(b"\r") != endings:
        return DataFault.BARE_NEWLINE
    if len(raw) > MAX_LINE - 2 and max(map(len, lines)) > MAX_LINE - 2:
        return DataFault.LINE_TOO_LONG
    return None


def unstuff(raw: bytes) -> bytes:
    """Undo dot-stuffing (RFC 5321 4.5.2): a line's leading dot is dropped."""
    if raw.startswith(b"."):
        raw = raw[1:]
    return raw.replace(b"\r\n.", b"\r\n") if b"\r\n." in raw else raw
