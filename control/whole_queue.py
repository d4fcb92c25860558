"""The whole server's mail queue for the dashboard: the process's own queue control, or with
workers every worker's, asked over its Unix socket and merged as the API's fan-out does."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import msgspec

from control.fanout import ask_workers
from control.merge import Reply
from control.services import Services
from mta.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ScaiSendError,
    StorageUnavailable,
)
from mta.scheduler.queue_admin import QueuedMessage, QueueState
from mta.services.identity import TokenService

PEERS_STATE = "scaisend.peers"  # the app's state: (index, socket) of every worker, or ()
TOKEN_SECONDS = 60  # the token a worker is asked with: one page's requests
BASE = "/api/admin/queue"
ERROR_OF: dict[int, type[ScaiSendError]] = {
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    503: StorageUnavailable,
}


class QueueSteering(Protocol):
    """What the dashboard does to the queue: QueueControl's calls (account None: every
    account's mail, else that account's only)."""

    async def list(
        self,
        account: str | None = None,
        *,
        domain: str | None = None,
        state: QueueState | None = None,
        limit: int = 100,
    ) -> list[QueuedMessage]: ...

    async def retry(self, account: str | None, queue_id: str | None) -> int: ...

    async def hold(self, account: str | None, queue_id: str) -> QueuedMessage: ...

    async def release(self, account: str | None, queue_id: str) -> QueuedMessage: ...

    async def delete(self, account: str | None, queue_id: str) -> None: ...


class Listing(msgspec.Struct):
    messages: list[QueuedMessage]


class Retried(msgspec.Struct):
    retried: int


class WorkersQueue:
    """QueueSteering over every worker's `/api/admin/queue`, with a short-lived token of the
    caller's reach (the operator's, or an admin's of the account)."""

    def __init__(self, peers: tuple[tuple[int, Path], ...], tokens: TokenService) -> None:
        self._peers = peers
        self._tokens = tokens

    async def list(
        self,
        account: str | None = None,
        *,
        domain: str | None = None,
        state: QueueState | None = None,
        limit: int = 100,
    ) -> list[QueuedMessage]:
        query = {"domain": domain, "state": state, "limit": str(limit)}
        found = await self._ask(account, "GET", BASE, {k: v for k, v in query.items() if v})
        return msgspec.json.decode(found.body, type=Listing).messages

    async def retry(self, account: str | None, queue_id: str | None) -> int:
        path = f"{BASE}/{quote(queue_id, safe='')}/retry" if queue_id else f"{BASE}/retry"
        found = await self._ask(account, "POST", path)
        return msgspec.json.decode(found.body, type=Retried).retried

    async def hold(self, account: str | None, queue_id: str) -> QueuedMessage:
        found = await self._ask(account, "POST", f"{BASE}/{quote(queue_id, safe='')}/hold")
        return msgspec.json.decode(found.body, type=QueuedMessage)

    async def release(self, account: str | None, queue_id: str) -> QueuedMessage:
        found = await self._ask(account, "POST", f"{BASE}/{quote(queue_id, safe='')}/release")
        return msgspec.json.decode(found.body, type=QueuedMessage)

    async def delete(self, account: str | None, queue_id: str) -> None:
        await self._ask(account, "DELETE", f"{BASE}/{quote(queue_id, safe='')}")

    async def _ask(
        self, account: str | None, method: str, path: str, query: dict[str, str] | None = None
    ) -> Reply:
        token = self._tokens.issue(
            subject="dashboard",
            account_id=account or "",
            role="operator" if account is None else "admin",
            ttl_seconds=TOKEN_SECONDS,
        )
        headers = {"authorization": f"Bearer {token}", "accept": "application/json"}
        reply, _ = await ask_workers(self._peers, method, path, urlencode(query or {}), headers)
        if reply.status >= 400:
            raise error_of(reply)
        return reply


def error_of(reply: Reply) -> ScaiSendError:
    """The error a worker answered with, as the service would have raised it."""
    try:
        body: Any = msgspec.json.decode(reply.body)
        message = str(body["errors"][0]["message"])
    except (msgspec.DecodeError, KeyError, IndexError, TypeError):
        message = f"the queue answered {reply.status}"
    return ERROR_OF.get(reply.status, ScaiSendError)(message)


def whole_queue(request: Any, services: Services) -> QueueSteering:
    """The queue a dashboard request steers: this process's own, or every worker's."""
    peers: tuple[tuple[int, Path], ...] = request.app.state.get(PEERS_STATE, ())
    return WorkersQueue(peers, services.tokens) if peers else services.queue
