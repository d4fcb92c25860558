"""A webhook receiver for bench/webhook_bench.py: answers every POST at once with 200 and
records, per POST, its arrival time (time.time()) and the events it carried (ScaiSend format:
one JSON object a POST; SendGrid format: a JSON array). A raw asyncio HTTP/1.1 server with
keep-alive (uvloop when installed), on 127.0.0.1 only, so it is not the bottleneck.

    .venv/bin/python bench/webhook_receiver.py --port 8080 [--hold]

Any POST is a webhook delivery. GETs are the bench's controls, answered with JSON:

    GET /stats    {"posts", "events", "unique", "first", "last", "held", "released_at"}
    GET /events   {"posts": [[arrival, events, held], ...],
                   "events": [[arrival, timestamp, event_id], ...]}
    GET /hold     hold the answers to POSTs from now on (they are recorded on arrival)
    GET /release  answer the held POSTs, stop holding; {"released_at": time}

With --hold it starts holding: the bench fills the outbox, then releases to time the drain.
It stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any, cast

import msgspec

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


class Event(msgspec.Struct):
    """The fields the bench needs from one event, in either format."""

    event_id: str = ""
    sg_event_id: str = ""
    timestamp: float = 0.0


BODY = list[Event] | Event


class Record:
    """What arrived, and the held answers."""

    def __init__(self, hold: bool) -> None:
        self.posts: list[tuple[float, int, bool]] = []
        self.events: list[tuple[float, float, str]] = []
        self.seen: set[str] = set()
        self.holding = hold
        self.held: list[asyncio.Transport] = []
        self.released_at: float | None = None

    def post(self, arrival: float, body: bytes) -> None:
        try:
            decoded = msgspec.json.decode(body, type=BODY)
        except msgspec.DecodeError:
            decoded = []
        events = decoded if isinstance(decoded, list) else [decoded]
        self.posts.append((arrival, len(events), self.holding))
        for event in events:
            event_id = event.event_id or event.sg_event_id
            self.events.append((arrival, event.timestamp, event_id))
            self.seen.add(event_id)

    def release(self) -> float:
        self.holding = False
        self.released_at = time.time()
        for transport in self.held:
            if not transport.is_closing():
                transport.write(OK)
        self.held.clear()
        return self.released_at

    def stats(self) -> dict[str, Any]:
        return {
            "posts": len(self.posts),
            "events": len(self.events),
            "unique": len(self.seen),
            "first": self.posts[0][0] if self.posts else None,
            "last": self.posts[-1][0] if self.posts else None,
            "held": sum(1 for post in self.posts if post[2]),
            "released_at": self.released_at,
        }

    def control(self, path: str) -> dict[str, Any]:
        if path == "/events":
            return {"posts": self.posts, "events": self.events}
        if path == "/hold":
            self.holding = True
        elif path == "/release":
            return {"released_at": self.release()}
        return self.stats()


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: requests with Content-Length (no chunked)."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        arrival = time.time()
        self.buffer += data
        while self.transport is not None and self._one_request(arrival):
            pass

    def _one_request(self, arrival: float) -> bool:
        """Handle the first whole request in the buffer; False when there is none yet."""
        assert self.transport is not None
        end = self.buffer.find(HEAD_END)
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                self.transport.close()
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        headers = dict(_header(line) for line in lines[1:] if ":" in line)
        if "transfer-encoding" in headers:
            self.transport.write(b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n")
            self.transport.close()
            return False
        start, length = end + len(HEAD_END), int(headers.get("content-length", "0"))
        if len(self.buffer) < start + length:
            return False
        body = bytes(self.buffer[start : start + length])
        del self.buffer[: start + length]
        method, path, *_ = [*lines[0].split(" "), "", ""]
        self._answer(method, path, body, arrival)
        if headers.get("connection", "").lower() == "close":
            self.transport.close()
        return True

    def _answer(self, method: str, path: str, body: bytes, arrival: float) -> None:
        assert self.transport is not None
        if method == "POST":
            self.record.post(arrival, body)
            if self.record.holding:
                self.record.held.append(self.transport)
            else:
                self.transport.write(OK)
            return
        payload = json.dumps(self.record.control(path)).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
        )


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


async def serve(port: int, hold: bool) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    record = Record(hold)
    server = await loop.create_server(
        lambda: Connection(record), "127.0.0.1", port, backlog=1024, reuse_address=True
    )
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--hold", action="store_true", help="start holding the answers")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.port, args.hold))
    else:
        uvloop.run(serve(args.port, args.hold))


if __name__ == "__main__":
    main()
