"""A SpamAssassin spamd client (the SPAMC/1.5 protocol's REPORT command): the score and the
report spamd gives one message, bounded in size and time."""

from __future__ import annotations

import asyncio
import re

import msgspec

MAX_SCANNED = 512 * 1024  # spamc's default: larger messages are not scanned
MAX_ANSWER = 256 * 1024
SPAM_HEADER = re.compile(rb"^Spam:\s*\w+\s*;\s*(-?[\d.]+)\s*/\s*(-?[\d.]+)", re.MULTILINE)


class SpamVerdict(msgspec.Struct, frozen=True):
    score: str  # as spamd wrote it, e.g. "5.1"
    report: str


class SpamdError(Exception):
    pass


def parse_answer(answer: bytes) -> SpamVerdict:
    """spamd's answer to REPORT: `SPAMD/1.1 0 EX_OK`, headers, a blank line, the report."""
    head, _, body = answer.replace(b"\r\n", b"\n").partition(b"\n\n")
    status = head.split(b"\n", 1)[0].split()
    if len(status) < 2 or not status[0].startswith(b"SPAMD/") or status[1] != b"0":
        raise SpamdError(f"spamd answered {head[:80]!r}")
    found = SPAM_HEADER.search(head)
    if found is None:
        raise SpamdError("spamd's answer has no Spam: header")
    return SpamVerdict(found.group(1).decode(), body.decode("utf-8", "replace").strip())


async def scan(host: str, port: int, message: bytes, timeout: float = 30.0) -> SpamVerdict:
    """The verdict of the spamd at host:port; SpamdError (or OSError, TimeoutError) when it
    cannot say. A message over MAX_SCANNED is not sent (score 0, report says why)."""
    if len(message) > MAX_SCANNED:
        return SpamVerdict("0.0", f"not scanned: larger than {MAX_SCANNED // 1024} KB")
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            request = f"REPORT SPAMC/1.5\r\nContent-length: {len(message)}\r\n\r\n".encode()
            writer.write(request + message)
            await writer.drain()
            writer.write_eof()
            answer = await _read_all(reader)
        finally:
            writer.close()
    return parse_answer(answer)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    """Until spamd closes, at most MAX_ANSWER bytes."""
    chunks, size = [], 0
    while size < MAX_ANSWER and (chunk := await reader.read(MAX_ANSWER - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def spamd_address(setting: str) -> tuple[str, int] | None:
    """`[inbound] spamd` ("host:port", empty for none) as (host, port)."""
    if not setting:
        return None
    host, _, port = setting.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)
