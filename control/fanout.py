"""Workers (`[server] workers` above 1): each serves its HTTP app on a Unix socket too, and
/metrics and /api/admin/queue asked on the shared port are asked of every worker over those
sockets and answered as one (control/merge.py), so a request sees the whole server."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from control.merge import Answer, Reply, merge_answers

log = logging.getLogger(__name__)
LOCAL_HEADER = "x-scaisend-worker-local"  # set on the fanned-out requests: answer for yourself
UNREACHABLE_HEADER = "x-scaisend-workers-unreachable"
ASK_TIMEOUT_SECONDS = 30.0
FORWARDED = (b"authorization", b"accept")


def fans_out(path: str) -> bool:
    return path == "/metrics" or path == "/api/admin/queue" or path.startswith("/api/admin/queue/")


def is_local(scope: Scope) -> bool:
    name = LOCAL_HEADER.encode()
    return any(key == name for key, _ in scope["headers"])


def fan_out(app: ASGIApp, peers: tuple[tuple[int, Path], ...]) -> ASGIApp:
    """`app` itself for the single process; for a worker, `app` behind the fan-out."""
    return WorkerFanout(app, peers) if peers else app


class WorkerFanout:
    """An ASGI app in front of the worker's own: whole-server requests go to every worker."""

    def __init__(self, app: ASGIApp, peers: tuple[tuple[int, Path], ...]) -> None:
        self.app = app
        self.peers = peers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not fans_out(scope["path"]) or is_local(scope):
            await self.app(scope, receive, send)
            return
        await self._fan_out(scope, send)

    async def _fan_out(self, scope: HTTPScope, send: Send) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        headers = {
            key.decode(): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in FORWARDED
        }
        reply, missing = await ask_workers(
            self.peers, scope["method"], scope["path"], query, headers
        )
        await _send(send, reply, missing)


async def ask_workers(
    peers: tuple[tuple[int, Path], ...], method: str, path: str, query: str, headers: dict[str, str]
) -> tuple[Reply, list[str]]:
    """Every worker's answer to one request, merged (control/merge.py), and the workers that
    did not answer."""
    asked = [ask_worker(k, peer, method, path, query, headers) for k, peer in peers]
    found = await asyncio.gather(*asked)
    answers = [answer for answer in found if answer is not None]
    missing = [str(k) for (k, _), answer in zip(peers, found, strict=True) if answer is None]
    return merge_answers(method, path, dict(parse_qsl(query)), answers), missing


async def ask_worker(
    index: int, peer: Path, method: str, path: str, query: str, headers: dict[str, str]
) -> Answer | None:
    """One worker's own answer (LOCAL_HEADER: it answers for itself), None if unreachable."""
    transport = httpx.AsyncHTTPTransport(uds=str(peer))
    url = f"http://worker{path}" + (f"?{query}" if query else "")
    try:
        async with httpx.AsyncClient(transport=transport, timeout=ASK_TIMEOUT_SECONDS) as client:
            response = await client.request(method, url, headers={**headers, LOCAL_HEADER: "1"})
    except httpx.HTTPError as exc:
        log.warning("event=worker_unreachable socket=%s error=%r", peer, str(exc))
        return None
    kind = response.headers.get("content-type", "application/json")
    return Answer(
        worker=index, status=response.status_code, content_type=kind, body=response.content
    )


async def _send(send: Send, reply: Reply, missing: list[str]) -> None:
    headers: list[Any] = [(b"cache-control", b"no-store")]
    if reply.status != 204:
        headers.append((b"content-type", reply.content_type.encode()))
        headers.append((b"content-length", str(len(reply.body)).encode()))
    if missing:  # the reply lacks these workers' part
        headers.append((UNREACHABLE_HEADER.encode(), ",".join(missing).encode()))
    start: Any = {"type": "http.response.start", "status": reply.status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": reply.body, "more_body": False})
