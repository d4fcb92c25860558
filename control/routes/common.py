"""Helpers shared by the controllers: typed body decoding."""

from __future__ import annotations

from typing import Any, TypeVar

from litestar import Request

from mta.intake.request import decode_json

T = TypeVar("T")


async def read_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    body = await request.body()
    result: T = decode_json(body or b"{}", kind)
    return result
