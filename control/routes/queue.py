"""`/api/admin/queue`: the operator's view of the mail queue, behind the `operator` guard
(an admin-role JWT)."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from control.guards import operator
from control.services import Services
from mta.scheduler.queue_admin import QueuedMessage, QueueState


@get("/api/admin/queue")
async def list_queue(
    services: NamedDependency[Services],
    domain: FromQuery[str | None] = None,
    queue_state: Annotated[QueueState | None, QueryParameter(name="state")] = None,
    limit: FromQuery[int] = 100,
) -> dict[str, list[QueuedMessage]]:
    messages = await services.queue.list(domain=domain, state=queue_state, limit=limit)
    return {"messages": messages}


@get("/api/admin/queue/{queue_id:str}")
async def show_queued(
    queue_id: FromPath[str], services: NamedDependency[Services]
) -> QueuedMessage:
    return await services.queue.show(queue_id)


@post("/api/admin/queue/retry", status_code=200)
async def retry_all(services: NamedDependency[Services]) -> dict[str, int]:
    return {"retried": await services.queue.retry(None)}


@post("/api/admin/queue/{queue_id:str}/retry", status_code=200)
async def retry_one(queue_id: FromPath[str], services: NamedDependency[Services]) -> dict[str, int]:
    return {"retried": await services.queue.retry(queue_id)}


@post("/api/admin/queue/{queue_id:str}/hold", status_code=200)
async def hold(queue_id: FromPath[str], services: NamedDependency[Services]) -> QueuedMessage:
    return await services.queue.hold(queue_id)


@post("/api/admin/queue/{queue_id:str}/release", status_code=200)
async def release(queue_id: FromPath[str], services: NamedDependency[Services]) -> QueuedMessage:
    return await services.queue.release(queue_id)


@delete("/api/admin/queue/{queue_id:str}", status_code=204)
async def delete_queued(queue_id: FromPath[str], services: NamedDependency[Services]) -> None:
    await services.queue.delete(queue_id)


ROUTER = Router(
    "/",
    guards=[operator],
    route_handlers=[list_queue, show_queued, retry_all, retry_one, hold, release, delete_queued],
)
