"""create_app(services) → the Litestar application: routes, dependency injection, errors."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide

from control.auth import provide_principal
from control.errors import EXCEPTION_HANDLERS
from control.routes import api_keys, domains, mail, messages, queue, templates, webhooks
from mta.services.container import Services


def create_app(services: Services, *, max_body_bytes: int) -> Litestar:
    def provide_services() -> Services:
        return services

    return Litestar(
        route_handlers=[
            *domains.ROUTES,
            *api_keys.ROUTES,
            *mail.ROUTES,
            *templates.ROUTES,
            *webhooks.ROUTES,
            *messages.ROUTES,
            *queue.ROUTES,
        ],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "principal": Provide(provide_principal),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=max_body_bytes,
        openapi_config=None,
        logging_config=None,  # the process's logging belongs to mta.logs
        debug=False,
    )
