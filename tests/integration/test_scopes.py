"""Every /v3 route the Litestar app registers names a scope: a key holding no scope gets 403
naming it, a key holding just that scope gets through, and so does the account's JWT."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

import httpx
import pytest
from litestar.routes import HTTPRoute

from config.settings import HttpSettings
from control.app import create_app
from control.services import Services
from mta.services.scopes import KNOWN_SCOPES
from tests.support.api import admin
from tests.support.server import ScaisendServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Litestar 3 notices

# Open to any authenticated caller (its own scopes) or to anyone (the schema).
NAMES_NO_SCOPE = {"/v3/scopes", "/v3/openapi.json"}
# The operator's accounts API takes no account's credentials at all, whatever their scopes
# (tests/unit/control/test_guards.py: test_only_the_operator_manages_accounts).
OPERATOR_ONLY = "/v3/subusers"
LACKS = re.compile(r"lacks the scope (\S+)")


def v3_operations() -> list[tuple[str, str]]:
    """(method, path with every parameter filled) of each /v3 route handler."""
    app = create_app(cast(Services, None), HttpSettings())
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/v3/"):
            continue
        if route.path in NAMES_NO_SCOPE or route.path.startswith(OPERATOR_ONLY):
            continue
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        found += [(m, path) for m in sorted(route.methods) if m not in ("OPTIONS", "HEAD")]
    return found


OPERATIONS = v3_operations()


@pytest.fixture(scope="module")
def server(make_module_server: Callable[..., ScaisendServer]) -> ScaisendServer:
    return make_module_server()


@pytest.fixture(scope="module")
def keys(server: ScaisendServer) -> dict[str, str]:
    """Key by the one scope it holds ("" holds none), made on demand; "jwt" is the JWT."""
    token = server.token()
    made = {"jwt": token}

    class Keys(dict[str, str]):
        def __missing__(self, scope: str) -> str:
            body = {
                "name": scope or "none",
                "environment": "test",
                "scopes": [scope] if scope else [],
            }
            response = admin(server, token, "POST", "/v3/api_keys", body)
            assert response.status_code == 201, response.text
            self[scope] = str(response.json()["api_key"])
            return self[scope]

    return Keys(made)


def call(server: ScaisendServer, key: str, method: str, path: str) -> httpx.Response:
    body = b"{}" if method in ("POST", "PUT", "PATCH") else None
    return server.http.request(
        method,
        f"{server.base_url}{path}",
        content=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_the_app_has_v3_routes_to_check() -> None:
    assert ("POST", "/v3/mail/send") in OPERATIONS
    assert ("GET", "/v3/messages/x") in OPERATIONS
    assert len(OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_each_route_names_its_scope(
    server: ScaisendServer, keys: dict[str, str], method: str, path: str
) -> None:
    refused = call(server, keys[""], method, path)
    assert refused.status_code == 403, refused.text
    found = LACKS.search(refused.json()["errors"][0]["message"])
    assert found, refused.text
    scope = found.group(1)
    assert scope in KNOWN_SCOPES
    allowed = call(server, keys[scope], method, path)
    assert allowed.status_code not in (401, 403), (scope, allowed.text)
    assert call(server, keys["jwt"], method, path).status_code not in (401, 403)
