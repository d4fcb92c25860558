"""The OpenAPI document at /openapi.json and /v3/openapi.json: Litestar's, from the routes, plus
what it cannot see — the bodies handlers read with `read_body` (with their examples, from
control.schemas.examples), SendGrid's error shape on every error status, bearer security, the
X-RateLimit-* headers of /v3, and tags that group operations by resource."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from importlib import metadata
from typing import Any

import msgspec
from litestar import Request, get
from litestar.enums import OpenAPIMediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.routes import HTTPRoute

from control.errors import ErrorBody
from control.schemas.examples import REQUEST_EXAMPLES

SCHEMA_PATHS = ["/openapi.json", "/v3/openapi.json"]
ERROR_STATUSES = {
    "400": "The request is malformed or fails validation.",
    "401": "No valid API key or token.",
    "403": "The key lacks the scope this endpoint names.",
    "404": "No such resource in this account.",
    "409": "The resource already exists.",
    "413": "The body (or what it inflates to) is over the size limit.",
    "415": "Unsupported Content-Encoding.",
    "429": "Over the caller's rate limit; see Retry-After.",
    "500": "Internal error; the body names the incident id that the server logged.",
    "503": "Storage unavailable; see Retry-After.",
}
RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in a burst.",
    "X-RateLimit-Remaining": "Requests left now.",
    "X-RateLimit-Reset": "Unix seconds when the budget is full again.",
}
REF = "#/components/schemas/{name}"
STATE_KEY = "scaisend.openapi_json"


def body_type(fn: Callable[..., Any]) -> type | None:
    """The Struct a handler passes to `read_body(request, X)`, read from its source."""
    fn = inspect.unwrap(fn)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "read_body"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Name)
        ):
            found = fn.__globals__.get(node.args[1].id)
            return found if isinstance(found, type) else None
    return None


def request_bodies(routes: list[Any]) -> dict[tuple[str, str], type]:
    """(OpenAPI path, lower-case method) → body Struct, for every handler that reads one."""
    found: dict[tuple[str, str], type] = {}
    for route in routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            kind = body_type(handler.fn)
            if kind is not None:
                for method in handler.http_methods:
                    found[(route.path_format, method.lower())] = kind
    return found


def error_responses(v3: bool) -> dict[str, Any]:
    """SendGrid's error body for each error status (429 only where there is a rate limit)."""
    content = {"application/json": {"schema": {"$ref": REF.format(name="ErrorBody")}}}
    responses: dict[str, Any] = {}
    for status, text in ERROR_STATUSES.items():
        if status == "429" and not v3:
            continue
        responses[status] = {"description": text, "content": content}
        if status in ("429", "503"):
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}
            }
    return responses


def complete(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """`schema` (Litestar's, as a dict) with bodies, error responses and /v3 headers added."""
    bodies = request_bodies(routes)
    _, components = msgspec.json.schema_components([ErrorBody, *bodies.values()], ref_template=REF)
    schema.setdefault("components", {}).setdefault("schemas", {}).update(components)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            kind = bodies.get((path, method))
            if kind is not None:
                operation["requestBody"] = request_body(kind, (method.upper(), path))
            operation.setdefault("tags", [tag(path)])
            _add_responses(operation["responses"], path.startswith("/v3/"))
    return schema


def tag(path: str) -> str:
    """The group an operation is listed under at /docs: the resource its path starts with
    (`/v3/templates/...` templates, `/v3/user/webhooks/...` user/webhooks)."""
    parts = path.strip("/").split("/")[1:]  # without "v3" or "api"
    depth = 2 if parts[0] in ("user", "admin") and len(parts) > 1 else 1
    return "/".join(parts[:depth])


def request_body(kind: type, operation: tuple[str, str]) -> dict[str, Any]:
    """The body `kind`, with the operation's example when there is one."""
    media: dict[str, Any] = {"schema": {"$ref": REF.format(name=kind.__name__)}}
    if operation in REQUEST_EXAMPLES:
        media["example"] = REQUEST_EXAMPLES[operation]
    return {"required": True, "content": {"application/json": media}}


def _add_responses(responses: dict[str, Any], v3: bool) -> None:
    responses.update(error_responses(v3))
    if not v3:
        return
    headers = {
        name: {"description": text, "schema": {"type": "string", "pattern": "^[0-9]+$"}}
        for name, text in RATE_HEADERS.items()
    }
    for response in responses.values():
        response.setdefault("headers", {}).update(headers)


def completed_json(request: Request[Any, Any, Any]) -> bytes:
    """The completed document, built on first use and kept in the app's state."""
    app = request.app
    cached = app.state.get(STATE_KEY)
    if cached is None:
        cached = msgspec.json.encode(complete(app.openapi_schema.to_schema(), app.routes))
        app.state[STATE_KEY] = cached
    return bytes(cached)


class CompletedJson(JsonRenderPlugin):
    """Litestar's own /schema/openapi.json, completed too."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return completed_json(request)


@get(SCHEMA_PATHS, include_in_schema=False, media_type=OpenAPIMediaType.OPENAPI_JSON)
async def openapi_document(request: Request[Any, Any, Any]) -> bytes:
    return completed_json(request)


def _version() -> str:
    try:
        return metadata.version("scaisend")
    except metadata.PackageNotFoundError:
        return "0"


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="ScaiSend",
        version=_version(),
        description="SendGrid-v3-compatible mail API (/v3) and the operator API (/api/admin).",
        path="/schema",  # Litestar's router, with its catch-all, stays out of /v3
        render_plugins=[CompletedJson()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key (SS.…) or a JWT from `scaisend token`.",
                )
            }
        ),
        security=[{"bearer": []}],
    )
