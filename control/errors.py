"""The one map from mta errors (and Litestar's own) to SendGrid-shaped HTTP error responses:
`{"errors": [{"message", "field", "help"}]}`; a 500 says only its incident id, the log the rest."""

from __future__ import annotations

import logging
import secrets
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from mta.core import errors

log = logging.getLogger(__name__)

STATUS_BY_ERROR: list[tuple[type[errors.ScaiSendError], int]] = [
    (errors.ValidationError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),
    (errors.Conflict, 409),
    (errors.PayloadTooLarge, 413),
    (errors.RateLimited, 429),
    (errors.StorageUnavailable, 503),
]

# Litestar's bare status phrases, said the way SendGrid's clients expect to read them.
MESSAGE_BY_STATUS = {
    404: "resource not found",
    405: "method not allowed",
    413: "request body too large",
    415: "unsupported media type",
}


class ErrorItem(msgspec.Struct, kw_only=True):
    message: str
    field: str | None = None
    help: str | None = None


class ErrorBody(msgspec.Struct, kw_only=True):
    """SendGrid's error response (`global_error_response_schema`)."""

    errors: list[ErrorItem]


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


def validation_detail(exc: ValidationException) -> tuple[str, str | None]:
    """(message, field) of Litestar's parameter validation: its first complaint, by name."""
    extra = exc.extra
    if isinstance(extra, list) and extra and isinstance(extra[0], dict):
        first = extra[0]
        key = first.get("key")
        return str(first.get("message") or exc.detail), str(key) if key else None
    return exc.detail, None


def http_error(request: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    assert isinstance(exc, HTTPException)
    if exc.status_code >= 500:
        return internal_error(request, exc)
    field = None
    if isinstance(exc, ValidationException):
        message, field = validation_detail(exc)
    elif exc.detail == HTTPStatus(exc.status_code).phrase:  # Litestar said nothing more
        message = MESSAGE_BY_STATUS.get(exc.status_code, exc.detail.lower())
    else:
        message = exc.detail
    return Response(
        error_body(message, field), status_code=exc.status_code, headers=exc.headers or None
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[object]:
    incident = secrets.token_hex(6)
    log.error(
        "event=http_internal_error incident=%s method=%s path=%s",
        incident,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return Response(error_body(f"internal error (incident {incident})"), status_code=500)


EXCEPTION_HANDLERS = {
    errors.ScaiSendError: scaisend_error,
    HTTPException: http_error,
    Exception: internal_error,
}
