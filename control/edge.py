"""The outermost layer of `/v3`: who is calling, their token bucket, and the X-RateLimit-*
headers on every response, 404 and 405 included (Litestar's own middleware only sees routed
requests). Beyond the budget: 429 in SendGrid's shape with `Retry-After`."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.types import Message, Receive, Scope, Send

from config.settings import HttpSettings
from control.auth import PRINCIPAL_STATE, authenticate, bucket_key, credentials
from control.errors import error_body
from control.nul import NUL_MESSAGE, has_nul
from control.ratelimit import Decision, RateLimiter
from control.services import Services
from control.ui.security import is_ui, with_ui_headers
from mta.services.identity import Principal

TOO_MANY_REQUESTS = msgspec.json.encode(error_body("too many requests"))
NUL_IN_URL = msgspec.json.encode(error_body(NUL_MESSAGE, "url"))


def is_v3(path: str) -> bool:
    return path == "/v3" or path.startswith("/v3/")


def rate_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_at).encode()),
    ]


def header(scope: Scope, wanted: bytes = b"authorization") -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    return f"ip:{client[0] if client else '-'}"


class ApiEdge:
    """An ASGI app in front of the Litestar app (`.app`)."""

    def __init__(self, app: Litestar, services: Services, buckets: RateLimiter) -> None:
        self.app = app
        self.services = services
        self.buckets = buckets

    def apply_settings(self, http: HttpSettings) -> None:
        """A reload: the new `[http]` rate limit, from each caller's next request."""
        self.buckets.configure(http.rate_limit_per_second, http.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or not is_v3(scope["path"]):
            ui = scope["type"] == ScopeType.HTTP and is_ui(scope["path"])
            await self.app(scope, receive, with_ui_headers(send) if ui else send)
            return
        if has_nul(scope["path"], scope["query_string"]):  # before any lookup: see control/nul
            await self._reply(send, 400, NUL_IN_URL, [])
            return
        decision = await self.buckets.acquire(await self._identify(scope))
        headers = rate_headers(decision)
        if not decision.allowed:
            retry = [(b"retry-after", str(decision.retry_after).encode()), *headers]
            await self._reply(send, 429, TOO_MANY_REQUESTS, retry)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _identify(self, scope: Scope) -> str:
        """The bucket key; the outcome is kept for `provide_principal` so it runs once."""
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            method = str(scope.get("method", "GET"))
            given = credentials(lambda name: header(scope, name.encode()), method)
            principal: Principal | Exception = await authenticate(self.services, given)
        except Exception as exc:  # raised again, and answered, where a route needs a caller
            principal = exc
        state[PRINCIPAL_STATE] = principal
        if isinstance(principal, Principal):
            return bucket_key(principal)
        return client_key(scope)  # bad or missing credentials spend the address's budget

    @staticmethod
    async def _reply(
        send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})
