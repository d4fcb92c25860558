"""`/api/admin/queue`: the operator's view of the mail queue (admin-role JWT only)."""

from __future__ import annotations

from typing import Annotated

from litestar import delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter

from control.auth import provide_admin
from control.services import Services
from mta.core.errors import PermissionDenied
from mta.scheduler.queue_admin import QueuedMessage, QueueState
from mta.services.identity import Principal

ADMIN = {"principal": Provide(provide_admin)}


def _operator(principal: Principal) -> None:
    if principal.role != "admin":
        raise PermissionDenied("the queue is for operators: an admin-role token is needed")


@get("/api/admin/queue", dependencies=ADMIN)
async def list_queue(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    domain: FromQuery[str | None] = None,
    queue_state: Annotated[QueueState | None, QueryParameter(name="state")] = None,
    limit: FromQuery[int] = 100,
) -> dict[str, list[QueuedMessage]]:
    _operator(principal)
    messages = await services.queue.list(domain=domain, state=queue_state, limit=limit)
    return {"messages": messages}


@get("/api/admin/queue/{queue_id:str}", dependencies=ADMIN)
async def show_queued(
    queue_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> QueuedMessage:
    _operator(principal)
    return await services.queue.show(queue_id)


@post("/api/admin/queue/retry", dependencies=ADMIN, status_code=200)
async def retry_all(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> dict[str, int]:
    _operator(principal)
    return {"retried": await services.queue.retry(None)}


@post("/api/admin/queue/{queue_id:str}/retry", dependencies=ADMIN, status_code=200)
async def retry_one(
    queue_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, int]:
    _operator(principal)
    return {"retried": await services.queue.retry(queue_id)}


@post("/api/admin/queue/{queue_id:str}/hold", dependencies=ADMIN, status_code=200)
async def hold(
    queue_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> QueuedMessage:
    _operator(principal)
    return await services.queue.hold(queue_id)


@post("/api/admin/queue/{queue_id:str}/release", dependencies=ADMIN, status_code=200)
async def release(
    queue_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> QueuedMessage:
    _operator(principal)
    return await services.queue.release(queue_id)


@delete("/api/admin/queue/{queue_id:str}", dependencies=ADMIN, status_code=204)
async def delete_queued(
    queue_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    _operator(principal)
    await services.queue.delete(queue_id)


ROUTES = [list_queue, show_queued, retry_all, retry_one, hold, release, delete_queued]
