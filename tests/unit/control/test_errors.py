"""Error responses: SendGrid's shape for Litestar's own errors (404, 405, parameter
validation) and for crashes, which name an incident id and leak nothing else."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.exceptions import InternalServerException
from litestar.testing import TestClient

from control.errors import EXCEPTION_HANDLERS
from mta.core.errors import PayloadTooLarge

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Litestar 3 notices


@get("/crash")
async def crash() -> None:
    raise RuntimeError("password=hunter2 in a stack")


@get("/litestar-crash")
async def litestar_crash() -> None:
    raise InternalServerException("connection string postgresql://u:secret@db")


@get("/count")
async def count(n: int) -> dict[str, int]:
    return {"n": n}


@get("/big")
async def big() -> None:
    raise PayloadTooLarge("too big", help="smaller")


@pytest.fixture
def client() -> Iterator[Any]:
    app = Litestar(
        [crash, litestar_crash, count, big],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=None,
        logging_config=None,
    )
    with TestClient(app) as client:
        yield client


def only_error(response: Any) -> dict[str, Any]:
    (error,) = response.json()["errors"]
    assert set(error) == {"message", "field", "help"}
    return dict(error)


@pytest.mark.parametrize("path", ["/crash", "/litestar-crash"])
def test_a_crash_names_an_incident_and_nothing_else(
    client: Any, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="control.errors"):
        response = client.get(path)
    assert response.status_code == 500
    message = only_error(response)["message"]
    assert message.startswith("internal error (incident ")
    assert "hunter2" not in response.text and "secret" not in response.text
    incident = message.removeprefix("internal error (incident ").rstrip(")")
    assert any(incident in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "status", "message", "field"),
    [
        ("GET", "/nowhere", 404, "resource not found", None),
        ("POST", "/count", 405, "method not allowed", None),
        ("GET", "/count?n=x", 400, "Expected `int`, got `str`", "n"),
        ("GET", "/count", 400, "Missing required query parameter 'n' for path /count", None),
        ("GET", "/big", 413, "too big", None),
    ],
)
def test_litestar_and_mta_errors_are_sendgrid_shaped(
    client: Any, method: str, path: str, status: int, message: str, field: str | None
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = only_error(response)
    assert (error["message"], error["field"]) == (message, field)
