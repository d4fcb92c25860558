"""create_app(services) → the Litestar application: routes (every `/v3` one behind the scope
guard), dependency injection, errors, OpenAPI; create_asgi() puts the rate-limiting edge
(control.edge) in front of it."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import HttpSettings
from control.auth import SERVICES_STATE, provide_principal
from control.edge import ApiEdge
from control.errors import EXCEPTION_HANDLERS
from control.guards import require_scope
from control.openapi import openapi_config, openapi_document
from control.ratelimit_sql import make_limiter
from control.routes import (
    api_browser,
    api_keys,
    domains,
    events,
    mail,
    messages,
    parse,
    queue,
    scopes,
    subusers,
    templates,
    webhooks,
)
from control.routes import asm as asm_routes
from control.routes import batches as batch_routes
from control.routes import health as health_routes
from control.routes import reports as report_routes
from control.routes import session as session_routes
from control.routes import stats as stats_routes
from control.routes import suppressions as suppression_routes
from control.routes import tracking as tracking_routes
from control.services import Services
from control.ui.routes import UI_DIR, ui_router
from control.whole_queue import PEERS_STATE


def v3_router() -> Router:
    """The SendGrid API: each handler names its scope (`opt`), checked by one guard."""
    return Router(
        "/",
        guards=[require_scope],
        route_handlers=[
            *api_keys.ROUTES,
            *mail.ROUTES,
            *templates.ROUTES,
            *webhooks.ROUTES,
            *parse.ROUTES,
            *messages.ROUTES,
            *events.ROUTES,
            *batch_routes.ROUTES,
            *scopes.ROUTES,
            *suppression_routes.ROUTES,
            *asm_routes.ROUTES,
            *stats_routes.ROUTES,
            *report_routes.ROUTES,
        ],
    )


def create_app(
    services: Services, http: HttpSettings, peers: tuple[tuple[int, Path], ...] = ()
) -> Litestar:
    """`peers`: every worker's (index, socket) when there are workers, for the dashboard's
    whole-server queue (control/whole_queue.py)."""

    def provide_services() -> Services:
        return services

    return Litestar(
        route_handlers=[
            domains.ROUTER,
            queue.ROUTER,
            subusers.ROUTER,
            *session_routes.ROUTES,
            v3_router(),
            *tracking_routes.ROUTES,
            *health_routes.routes(http),
            openapi_document,
            *api_browser.routes(),
            ui_router(),
        ],
        template_config=TemplateConfig(directory=UI_DIR / "templates", engine=JinjaTemplateEngine),
        state=State({SERVICES_STATE: services, PEERS_STATE: peers}),
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "principal": Provide(provide_principal),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=http.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=None,  # the process's logging belongs to mta.server.logs
        debug=False,
    )


def create_asgi(
    services: Services,
    http: HttpSettings,
    engine: AsyncEngine | None = None,
    peers: tuple[tuple[int, Path], ...] = (),
) -> ApiEdge:
    """What uvicorn serves: the app behind per-caller token buckets (kept in the database
    when `engine` is PostgreSQL, so that every node spends from the same ones)."""
    return ApiEdge(
        create_app(services, http, peers), services, make_limiter(http, engine, services.clock.time)
    )
