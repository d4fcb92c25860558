"""The operator's endpoints outside /v3 (so outside its rate limits and the OpenAPI document):
GET /metrics (Prometheus text format), GET /healthz (the process answers) and GET /readyz
(the database answers and the spool, SMTP listeners and HTTP are up)."""

from __future__ import annotations

import hmac
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler

from config.settings import HttpSettings
from control.services import Services
from mta.core.errors import AuthenticationError


class Alive(msgspec.Struct, kw_only=True):
    status: str


class Ready(msgspec.Struct, kw_only=True):
    status: str  # "ok" or "unavailable"
    parts: dict[str, bool]
    not_ready: list[str]


def bearer_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries `Bearer <token>` (compared in constant time)."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def readiness_body(parts: dict[str, bool]) -> Ready:
    waiting = sorted(part for part, ready in parts.items() if not ready)
    return Ready(status="unavailable" if waiting else "ok", parts=parts, not_ready=waiting)


def routes(http: HttpSettings) -> list[HTTPRouteHandler]:
    """The three handlers; /metrics wants `[http] metrics_token` as a bearer when it is set."""

    @get("/metrics", include_in_schema=False)
    async def metrics(
        request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> Response[bytes]:
        if http.metrics_token and not bearer_matches(
            request.headers.get("authorization", ""), http.metrics_token
        ):
            raise AuthenticationError("a valid metrics token is required")
        await services.metrics.refresh()
        return Response(
            services.metrics.render(),
            # Litestar adds the charset of a text/* type itself (once)
            media_type=services.metrics.content_type.replace("; charset=utf-8", ""),
            headers={"Cache-Control": "no-store"},
        )

    @get("/healthz", include_in_schema=False)
    async def healthz() -> Alive:
        return Alive(status="ok")

    @get("/readyz", include_in_schema=False)
    async def readyz(services: NamedDependency[Services]) -> Response[Ready]:
        body = readiness_body(await services.readiness.report())
        return Response(body, status_code=503 if body.not_ready else 200)

    return [metrics, healthz, readyz]
