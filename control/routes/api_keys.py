"""`/v3/api_keys`: create (secret shown once), list and read without secrets, rename or
re-scope (never beyond the caller's own scopes), revoke."""

from __future__ import annotations

from typing import Any

from litestar import Request, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.routes.common import read_body
from control.schemas.bodies import ApiKeyCreate, ApiKeyRename, ApiKeyUpdate
from control.services import Services
from mta.services.api_keys import ApiKeyView, check_scopes
from mta.services.identity import Principal


@post("/v3/api_keys", status_code=201, opt={"scope": "api_keys.create"})
async def create_key(
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, Any]:
    body = await read_body(request, ApiKeyCreate)
    principal.require_grantable(check_scopes(body.scopes), body.environment)
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


def _public(key: ApiKeyView) -> dict[str, Any]:
    return {
        "api_key_id": key.api_key_id,
        "name": key.name,
        "environment": key.environment,
        "scopes": key.scopes,
    }


@get("/v3/api_keys", opt={"scope": "api_keys.read"})
async def list_keys(
    services: NamedDependency[Services], principal: NamedDependency[Principal]
) -> dict[str, Any]:
    keys = await services.api_keys.list(principal.account_id)
    return {"result": [_public(k) for k in keys]}


@get("/v3/api_keys/{key_id:str}", opt={"scope": "api_keys.read"})
async def get_key(
    key_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, Any]:
    return {"result": [_public(await services.api_keys.get(principal.account_id, key_id))]}


@put("/v3/api_keys/{key_id:str}", opt={"scope": "api_keys.update"})
async def replace_key(
    key_id: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, Any]:
    body = await read_body(request, ApiKeyUpdate)
    if body.scopes is not None:
        target = await services.api_keys.get(principal.account_id, key_id)
        principal.require_grantable(check_scopes(body.scopes), target.environment)
    key = await services.api_keys.update(principal.account_id, key_id, body.name, body.scopes)
    return _public(key)


@patch("/v3/api_keys/{key_id:str}", opt={"scope": "api_keys.update"})
async def rename_key(
    key_id: FromPath[str],
    request: Request[Any, Any, Any],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> dict[str, Any]:
    body = await read_body(request, ApiKeyRename)
    key = await services.api_keys.update(principal.account_id, key_id, body.name, None)
    return {"api_key_id": key.api_key_id, "name": key.name}


@delete("/v3/api_keys/{key_id:str}", status_code=204, opt={"scope": "api_keys.delete"})
async def revoke_key(
    key_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> None:
    await services.api_keys.revoke(principal.account_id, key_id)


ROUTES = [create_key, list_keys, get_key, replace_key, rename_key, revoke_key]
