"""The dashboard's queue over workers: a worker's error answer raised as the service's own
error, so the page answers a 404 or a 409 as it does with one process."""

from __future__ import annotations

import msgspec

from control.errors import error_body
from control.merge import Reply
from control.whole_queue import error_of
from mta.core.errors import Conflict, NotFound, ScaiSendError, StorageUnavailable


def reply(status: int, message: str) -> Reply:
    return Reply(status, "application/json", msgspec.json.encode(error_body(message)))


def test_a_workers_error_is_the_services_error() -> None:
    found = error_of(reply(404, "no message q1 in the queue"))
    assert isinstance(found, NotFound) and found.message == "no message q1 in the queue"
    busy = error_of(reply(409, "message q1 is being delivered; hold it first"))
    assert isinstance(busy, Conflict) and "being delivered" in busy.message
    assert isinstance(error_of(reply(503, "no worker answered")), StorageUnavailable)
    odd = error_of(Reply(500, "text/plain", b"boom"))
    assert type(odd) is ScaiSendError and odd.message == "the queue answered 500"
