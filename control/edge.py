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
from control.auth import PRINCIPAL_STATE, authenticate, bucket_key
from control.errors import error_body
from control.ratelimit import Decision, RateLimiter
from mta.services.container import Services
from mta.services.identity import Principal

TOO_MANY_REQUESTS = msgspec.json.encode(error_body("too many requests"))


def is_v3(path: str) -> bool:
    return path == "/v3" or path.startswith("/v3/")


def rate_headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset_at).encode()),
    ]


def authorization(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"authorization":
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
            await self.app(scope, receive, send)
            return
        decision = await self.buckets.acquire(await self._identify(scope))
        headers = rate_headers(decision)
        if not decision.allowed:
            await self._too_many(send, headers, decision.retry_after)
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
            principal: Principal | Exception = await authenticate(
                self.services, authorization(scope)
            )
        except Exception as exc:  # raised again, and answered, where a route needs a caller
            principal = exc
        state[PRINCIPAL_STATE] = principal
        if isinstance(principal, Principal):
            return bucket_key(principal)
        return client_key(scope)  # bad or missing credentials spend the address's budget

    @staticmethod
    async def _too_many(send: Send, headers: list[tuple[bytes, bytes]], retry: int) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(TOO_MANY_REQUESTS)).encode()),
                    (b"retry-after", str(retry).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": TOO_MANY_REQUESTS, "more_body": False})
