"""The route guards: through the real app behind its edge, on a real database with two
accounts, a key lacking a route's scope is refused and one holding it admitted; no handler
under control/routes checks a scope or a role itself; every /v3 route declares its scope."""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

import httpx
import pytest
from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute
from litestar.testing import TestClient

import control.routes
from config.settings import HttpSettings
from control.app import create_app, create_asgi
from control.auth import SERVICES_STATE, provide_admin
from control.errors import EXCEPTION_HANDLERS
from control.guards import SCOPE, operator_only, queue_admin, require_scope
from control.services import Services
from mta.core.errors import AuthenticationError
from mta.services.accounts import AccountService
from mta.services.api_keys import ApiKeyService
from mta.services.domains import DomainService
from mta.services.identity import Role, TokenService
from mta.services.messages import MessageService
from mta.services.scopes import KNOWN_SCOPES
from mta.services.users import UserService
from tests.support.databases import Database, migrated_sessions

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Litestar 3 notices

SECRET = "a-test-secret-of-at-least-32-bytes"
ROUTES_DIR = Path(control.routes.__file__).parent
PUBLIC_V3 = {"/v3/openapi.json"}  # the API's own description, for anyone
ANY_CALLER = {"/v3/scopes"}  # any authenticated caller: it lists the caller's own scopes
OPERATOR_ONLY = "/v3/subusers"  # the accounts API: the operator's token, not an account's


def refusal(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": None, "help": None}]}


def services_with(**parts: Any) -> Services:
    """The bundle with just the services these routes reach; a route that got past its
    guard to reach another would fail on None (a 500), so the tests would see it."""
    empty = {f.name: None for f in dataclasses.fields(Services) if f.name != "clock"}
    return Services(**{**empty, **parts})


class Api(NamedTuple):
    client: httpx.AsyncClient
    keys: ApiKeyService
    tokens: TokenService
    accounts: AccountService

    async def key(self, account: str, *scopes: str) -> str:
        made = await self.keys.create(account, f"{account} key", "test", list(scopes))
        return made.api_key

    def jwt(self, account: str, role: Role = "user") -> str:
        return self.tokens.issue(subject="someone", account_id=account, role=role, ttl_seconds=600)

    def operator(self) -> str:
        return self.tokens.issue(subject="op", account_id="", role="operator", ttl_seconds=600)

    async def call(
        self,
        method: str,
        path: str,
        credential: str | None,
        body: bytes | None = None,
        on_behalf_of: str | None = None,
    ) -> httpx.Response:
        headers = {} if credential is None else {"Authorization": f"Bearer {credential}"}
        if on_behalf_of is not None:
            headers["on-behalf-of"] = on_behalf_of
        return await self.client.request(method, path, headers=headers, content=body)


@pytest.fixture
async def api(database: Database, tmp_path: Path) -> AsyncIterator[Api]:
    async with migrated_sessions(database, tmp_path, ("acme", "other")) as sessions:
        keys, tokens = ApiKeyService(sessions), TokenService(SECRET)
        domains = DomainService(sessions, cast(Any, None), "mx.test")  # listing needs no DNS
        messages = MessageService(sessions)
        accounts, users = AccountService(sessions), UserService(sessions)
        services = services_with(
            api_keys=keys,
            tokens=tokens,
            domains=domains,
            messages=messages,
            accounts=accounts,
            users=users,
        )
        # In this loop, as the database's connections are (a test client's portal is not).
        edge: Any = create_asgi(services, HttpSettings())  # Litestar's ASGI types, not httpx's
        transport = httpx.ASGITransport(app=edge)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            yield Api(client, keys, tokens, accounts)


async def test_a_key_lacking_the_scope_is_refused_and_one_holding_it_admitted(api: Api) -> None:
    reader = await api.key("acme", "api_keys.read")
    sender = await api.key("other", "mail.send", "templates.read")
    refused = await api.call("GET", "/v3/api_keys", sender)
    assert refused.status_code == 403
    assert refused.json() == refusal("access forbidden: this key lacks the scope api_keys.read")
    admitted = await api.call("GET", "/v3/api_keys", reader)
    assert admitted.status_code == 200, admitted.text
    assert [key["scopes"] for key in admitted.json()["result"]] == [["api_keys.read"]]
    as_jwt = await api.call("GET", "/v3/api_keys", api.jwt("other"))
    assert as_jwt.status_code == 200, as_jwt.text
    assert [key["scopes"] for key in as_jwt.json()["result"]] == [["mail.send", "templates.read"]]


@pytest.mark.parametrize(
    "credential",
    [None, "", "SS.nokey.nosecret", "not-a-key", "eyJ.forged.token"],
    ids=["no-header", "empty", "unknown-key", "garbage", "bad-jwt"],
)
async def test_a_bad_or_missing_credential_is_401(api: Api, credential: str | None) -> None:
    response = await api.call("GET", "/v3/api_keys", credential)
    assert response.status_code == 401, response.text
    assert response.json()["errors"][0]["message"].startswith(
        "The provided authorization grant is invalid"
    )


async def test_the_caller_is_checked_before_the_body_is_read(api: Api) -> None:
    bad_body = b'{"name": '
    creator = await api.key("acme", "api_keys.create")
    reader = await api.key("acme", "api_keys.read")
    assert (await api.call("POST", "/v3/api_keys", None, bad_body)).status_code == 401
    lacking = await api.call("POST", "/v3/api_keys", reader, bad_body)
    assert lacking.json() == refusal("access forbidden: this key lacks the scope api_keys.create")
    assert (await api.call("POST", "/v3/api_keys", creator, bad_body)).status_code == 400


async def test_any_one_of_several_scopes_will_do_and_the_refusal_names_the_first(
    api: Api,
) -> None:
    sender = await api.key("acme", "mail.send")
    admitted = await api.call("GET", "/v3/messages/nothing-here", sender)
    assert admitted.status_code == 404, admitted.text  # past the guard, to the service
    refused = await api.call("GET", "/v3/messages/nothing-here", await api.key("acme"))
    assert refused.json() == refusal("access forbidden: this key lacks the scope messages.read")


async def test_scopes_wants_a_caller_and_no_scope(api: Api) -> None:
    bare = await api.key("acme")
    assert (await api.call("GET", "/v3/scopes", bare)).json() == {"scopes": []}
    assert (await api.call("GET", "/v3/scopes", None)).status_code == 401


@pytest.mark.parametrize("path", ["/v3/api_keys", "/api/admin/queue", "/api/admin/domains"])
async def test_options_answers_without_credentials(api: Api, path: str) -> None:
    response = await api.call("OPTIONS", path, None)
    assert response.status_code == 204
    assert "OPTIONS" in response.headers["allow"]


async def test_the_admin_routes_take_only_jwts(api: Api) -> None:
    key = await api.key("acme", *sorted(KNOWN_SCOPES))
    for path in ("/api/admin/domains", "/api/admin/queue"):
        refused = await api.call("GET", path, key)
        assert refused.status_code == 403
        assert refused.json() == refusal(
            "admin endpoints need a JWT (scaisend token), not an API key"
        )
        assert (await api.call("GET", path, None)).status_code == 401
        assert (await api.call("GET", path, "eyJ.forged.token")).status_code == 401
    listed = await api.call("GET", "/api/admin/domains", api.jwt("acme"))
    assert (listed.status_code, listed.json()) == (200, [])


async def test_the_queue_refuses_a_jwt_without_the_admin_role(api: Api) -> None:
    refused = await api.call("GET", "/api/admin/queue", api.jwt("acme", role="user"))
    assert refused.status_code == 403
    assert refused.json() == refusal(
        "the queue is for operators and account admins: an admin-role token is needed"
    )


OPERATOR_REFUSED = (
    "an operator token belongs to no account: use a token or an API key of the account"
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v3/api_keys"),
        ("POST", "/v3/api_keys"),
        ("GET", "/v3/templates"),
        ("GET", "/v3/suppression/bounces"),
        ("GET", "/api/admin/domains"),
        ("POST", "/api/admin/domains"),
    ],
)
async def test_an_operator_token_cannot_act_as_an_account(api: Api, method: str, path: str) -> None:
    operator = api.tokens.issue(subject="op", account_id="", role="operator", ttl_seconds=600)
    refused = await api.call(method, path, operator)
    assert (refused.status_code, refused.json()) == (403, refusal(OPERATOR_REFUSED))


def test_an_operator_token_names_no_account_and_an_account_token_names_one() -> None:
    tokens = TokenService(SECRET)
    forged = [
        tokens.issue(subject="op", account_id="acme", role="operator", ttl_seconds=600),
        tokens.issue(subject="a", account_id="", role="admin", ttl_seconds=600),
    ]
    for token in forged:
        with pytest.raises(AuthenticationError):
            tokens.verify(token)


@get("/api/admin/probe")
async def probe() -> dict[str, str]:
    return {"answered": "yes"}


def test_the_queue_guard_admits_the_operator_and_account_admins() -> None:
    """The queue's own handlers need the whole scheduler; a probe behind the same guard."""
    tokens = TokenService(SECRET)
    app = Litestar(
        [Router("/", guards=[queue_admin], route_handlers=[probe])],
        state=State({SERVICES_STATE: services_with(tokens=tokens)}),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=None,
        logging_config=None,
    )
    admin = tokens.issue(subject="a", account_id="acme", role="admin", ttl_seconds=600)
    operator = tokens.issue(subject="op", account_id="", role="operator", ttl_seconds=600)
    user = tokens.issue(subject="u", account_id="acme", role="user", ttl_seconds=600)
    with TestClient(app) as client:
        for token in (admin, operator):
            admitted = client.get("/api/admin/probe", headers={"Authorization": f"Bearer {token}"})
            assert admitted.json() == {"answered": "yes"}
        refused = client.get("/api/admin/probe", headers={"Authorization": f"Bearer {user}"})
        assert refused.status_code == 403


# -- the declarations, read from the source and from the app ----------------------------

FORBIDDEN_ATTRIBUTES = {"require", "has_scope", "role", "is_jwt", "is_operator"}
FORBIDDEN_NAMES = {"PermissionDenied", "provide_admin", "admin_caller", "looks_like_jwt"}


def own_checks(source: str) -> list[str]:
    """What in a route module's source checks a caller itself instead of declaring it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and (
            node.id in FORBIDDEN_NAMES or (node.id == "ADMIN" and isinstance(node.ctx, ast.Store))
        ):
            found.append(f"line {node.lineno}: {node.id}")
    return found


def test_the_scan_finds_the_checks_handlers_used_to_make() -> None:
    old = """
ADMIN = {"principal": Provide(provide_admin)}
def _operator(principal):
    if principal.role != "admin":
        raise PermissionDenied("the queue is for operators")
async def handler(principal):
    principal.require("templates.read")
    if not principal.has_scope("stats.read"):
        pass
"""
    found = own_checks(old)
    for name in ("ADMIN", "provide_admin", ".role", "PermissionDenied", ".require", ".has_scope"):
        assert any(item.endswith(name) for item in found), (name, found)
    assert own_checks("ROUTER = Router('/', dependencies=ADMIN)\n") == []


def route_modules() -> Iterator[Path]:
    yield from sorted(ROUTES_DIR.glob("*.py"))


def test_no_route_handler_checks_a_scope_or_a_role_itself() -> None:
    modules = list(route_modules())
    assert len(modules) >= 10
    found = {path.name: own_checks(path.read_text()) for path in modules}
    assert {name: checks for name, checks in found.items() if checks} == {}


def handlers(app: Litestar) -> Iterator[tuple[str, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if "OPTIONS" not in handler.http_methods:
                    yield route.path, handler


def guards_of(handler: HTTPRouteHandler) -> list[Any]:
    return [guard for layer in handler.ownership_layers for guard in layer.guards or []]


def scopes_declared(declared: Any) -> tuple[str, ...]:
    names = (declared,) if isinstance(declared, str) else tuple(declared)
    assert names and all(name in KNOWN_SCOPES for name in names), declared
    return names


def test_every_v3_route_declares_its_scope_behind_the_one_guard() -> None:
    app = create_app(cast(Services, None), HttpSettings())
    checked = 0
    for path, handler in handlers(app):
        if not path.startswith("/v3/") or path in PUBLIC_V3:
            continue
        if path.startswith(OPERATOR_ONLY):
            assert guards_of(handler) == [operator_only], path
            continue
        assert require_scope in guards_of(handler), path
        assert SCOPE in handler.opt, f"{path} {handler.http_methods} declares no scope"
        if path in ANY_CALLER:
            assert handler.opt[SCOPE] is None, path
        else:
            scopes_declared(handler.opt[SCOPE])
        checked += 1
    assert checked >= 60


def test_every_admin_route_wants_a_jwt() -> None:
    app = create_app(cast(Services, None), HttpSettings())
    admin = [(path, h) for path, h in handlers(app) if path.startswith("/api/admin/")]
    assert len(admin) >= 10
    for path, handler in admin:
        principal = handler.resolve_dependencies().get("principal")
        by_dependency = principal is not None and principal.dependency is provide_admin
        by_guard = queue_admin in guards_of(handler)
        assert by_dependency or by_guard, path
        assert path.startswith("/api/admin/queue") == by_guard, path


# -- disabled accounts and the operator acting for one -------------------------------------


async def test_a_disabled_account_is_refused_and_the_other_account_is_not(api: Api) -> None:
    acme_key, other_key = (
        await api.key("acme", "api_keys.read"),
        await api.key("other", "api_keys.read"),
    )
    await api.accounts.set_disabled("acme", True)
    for credential in (acme_key, api.jwt("acme", role="admin")):
        refused = await api.call("GET", "/v3/api_keys", credential)
        assert (refused.status_code, refused.json()) == (
            403,
            refusal("access forbidden: the account is disabled"),
        )
    assert (
        await api.call("GET", "/api/admin/domains", api.jwt("acme", "admin"))
    ).status_code == 403
    assert (await api.call("GET", "/v3/api_keys", other_key)).status_code == 200
    await api.accounts.set_disabled("acme", False)
    assert (await api.call("GET", "/v3/api_keys", acme_key)).status_code == 200


async def test_the_operator_acts_for_an_account_with_on_behalf_of_and_nobody_else_can(
    api: Api,
) -> None:
    await api.key("acme", "api_keys.read")
    other_key = await api.key("other", "api_keys.read")
    as_acme = await api.call("GET", "/v3/api_keys", api.operator(), on_behalf_of="acme")
    assert as_acme.status_code == 200
    assert [k["name"] for k in as_acme.json()["result"]] == ["acme key"]
    unknown = await api.call("GET", "/v3/api_keys", api.operator(), on_behalf_of="nobody")
    assert (unknown.status_code, unknown.json()) == (
        403,
        refusal("access forbidden: on-behalf-of names no account (nobody)"),
    )
    for credential in (other_key, api.jwt("other", "admin")):
        refused = await api.call("GET", "/v3/api_keys", credential, on_behalf_of="acme")
        assert (refused.status_code, refused.json()) == (
            403,
            refusal("access forbidden: only the operator may act on behalf of an account"),
        )


async def test_only_the_operator_manages_accounts(api: Api) -> None:
    body = (
        b'{"username": "initech", "email": "ops@initech.example", '
        b'"password": "twelve chars", "ips": []}'
    )
    for credential in (await api.key("acme", *sorted(KNOWN_SCOPES)), api.jwt("acme", "admin")):
        for method, path in (("GET", "/v3/subusers"), ("POST", "/v3/subusers")):
            refused = await api.call(method, path, credential, body)
            assert (refused.status_code, refused.json()) == (
                403,
                refusal("access forbidden: only the operator manages accounts"),
            )
    assert (await api.call("GET", "/v3/subusers", None)).status_code == 401
    created = await api.call("POST", "/v3/subusers", api.operator(), body)
    assert created.status_code == 201
    assert created.json()["username"] == "initech"
    again = await api.call("POST", "/v3/subusers", api.operator(), body)
    assert again.status_code == 409
    listed = await api.call("GET", "/v3/subusers?username=initech", api.operator())
    assert [(a["username"], a["disabled"]) for a in listed.json()] == [("initech", False)]
    disable = await api.call("PATCH", "/v3/subusers/initech", api.operator(), b'{"disabled": true}')
    assert disable.status_code == 204
    shown = await api.call("GET", "/v3/subusers/initech", api.operator())
    assert shown.json()["disabled"] is True
