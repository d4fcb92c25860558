"""`/api/admin/queue`: the mail queue, behind the `queue_admin` guard. The operator's JWT sees
and steers every account's mail; an account admin's only the account's own (another
account's queue id is a 404, as if it were not there)."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from control.auth import QUEUE
from control.guards import queue_admin
from control.services import Services
from mta.scheduler.queue_admin import QueuedMessage, QueueState

# `account` (a dependency, control.auth.QUEUE): None for the operator, else the caller's.
Account = NamedDependency[str | None]


@get("/api/admin/queue")
async def list_queue(
    services: NamedDependency[Services],
    account: Account,
    domain: FromQuery[str | None] = None,
    queue_state: Annotated[QueueState | None, QueryParameter(name="state")] = None,
    limit: FromQuery[int] = 100,
) -> dict[str, list[QueuedMessage]]:
    found = await services.queue.list(account, domain=domain, state=queue_state, limit=limit)
    return {"messages": found}


@get("/api/admin/queue/{queue_id:str}")
async def show_queued(
    queue_id: FromPath[str], services: NamedDependency[Services], account: Account
) -> QueuedMessage:
    return await services.queue.show(account, queue_id)


@post("/api/admin/queue/retry", status_code=200)
async def retry_all(services: NamedDependency[Services], account: Account) -> dict[str, int]:
    return {"retried": await services.queue.retry(account, None)}


@post("/api/admin/queue/{queue_id:str}/retry", status_code=200)
async def retry_one(
    queue_id: FromPath[str], services: NamedDependency[Services], account: Account
) -> dict[str, int]:
    return {"retried": await services.queue.retry(account, queue_id)}


@post("/api/admin/queue/{queue_id:str}/hold", status_code=200)
async def hold(
    queue_id: FromPath[str], services: NamedDependency[Services], account: Account
) -> QueuedMessage:
    return await services.queue.hold(account, queue_id)


@post("/api/admin/queue/{queue_id:str}/release", status_code=200)
async def release(
    queue_id: FromPath[str], services: NamedDependency[Services], account: Account
) -> QueuedMessage:
    return await services.queue.release(account, queue_id)


@delete("/api/admin/queue/{queue_id:str}", status_code=204)
async def delete_queued(
    queue_id: FromPath[str], services: NamedDependency[Services], account: Account
) -> None:
    await services.queue.delete(account, queue_id)


ROUTER = Router(
    "/",
    guards=[queue_admin],
    dependencies=QUEUE,
    route_handlers=[list_queue, show_queued, retry_all, retry_one, hold, release, delete_queued],
)
