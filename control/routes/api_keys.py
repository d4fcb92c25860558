"""`/v3/api_keys`: create (secret shown once), list without secrets, revoke."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, post

from control.routes.common import read_body
from control.schemas.bodies import ApiKeyCreate
from mta.services.container import Services
from mta.services.identity import Principal


@post("/v3/api_keys", status_code=201)
async def create_key(
    request: Request[Any, Any, Any], services: Services, principal: Principal
) -> dict[str, Any]:
    principal.require("api_keys.create")
    body = await read_body(request, ApiKeyCreate)
    created = await services.api_keys.create(
        principal.account_id, body.name, body.environment, body.scopes
    )
    view = created.view
    return {
        "api_key": created.api_key,
        "api_key_id": view.api_key_id,
        "name": view.name,
        "environment": view.environment,
        "scopes": view.scopes,
    }


@get("/v3/api_keys")
async def list_keys(services: Services, principal: Principal) -> dict[str, Any]:
    principal.require("api_keys.read")
    keys = await services.api_keys.list(principal.account_id)
    return {
        "result": [
            {
                "api_key_id": k.api_key_id,
                "name": k.name,
                "environment": k.environment,
                "scopes": k.scopes,
            }
            for k in keys
        ]
    }


@delete("/v3/api_keys/{key_id:str}", status_code=204)
async def revoke_key(key_id: str, services: Services, principal: Principal) -> None:
    principal.require("api_keys.delete")
    await services.api_keys.revoke(principal.account_id, key_id)


ROUTES = [create_key, list_keys, revoke_key]
