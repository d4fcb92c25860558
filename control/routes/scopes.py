"""`GET /v3/scopes`: the scopes the caller holds (a JWT holds them all), as SendGrid lists them."""

from __future__ import annotations

import msgspec
from litestar import get
from litestar.di import NamedDependency

from mta.services.identity import Principal


class ScopeList(msgspec.Struct, kw_only=True):
    scopes: list[str]


@get("/v3/scopes", opt={"scope": None})  # any authenticated caller
async def list_scopes(principal: NamedDependency[Principal]) -> ScopeList:
    return ScopeList(scopes=principal.scope_list())


ROUTES = [list_scopes]
