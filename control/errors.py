"""The one map from mta errors (and Litestar's own) to SendGrid-shaped HTTP error responses:
`{"errors": [{"message", "field", "help"}]}`."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException

from mta import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[errors.ScaiSendError], int]] = [
    (errors.ValidationError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.StorageUnavailable, 503),
]


def error_body(
    message: str, field: str | None = None, help: str | None = None
) -> dict[str, list[dict[str, str | None]]]:
    return {"errors": [{"message": message, "field": field, "help": help}]}


def scaisend_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, errors.ScaiSendError)
    status = next((code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind)), 400)
    headers = {"Retry-After": "30"} if status == 503 else None
    return Response(
        error_body(exc.message, exc.field, exc.help), status_code=status, headers=headers
    )


def http_error(_: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, HTTPException)
    return Response(
        error_body(exc.detail), status_code=exc.status_code, headers=exc.headers or None
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    incident = secrets.token_hex(6)
    log.exception(
        "event=http_internal_error incident=%s path=%s", incident, request.url.path, exc_info=exc
    )
    return Response(error_body(f"internal error (incident {incident})"), status_code=500)


EXCEPTION_HANDLERS = {
    errors.ScaiSendError: scaisend_error,
    HTTPException: http_error,
    Exception: internal_error,
}
