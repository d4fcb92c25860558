"""Reading a request body into a typed Struct, bounded: the size limit holds for Content-Length,
for the bytes streamed (chunked) and for what gzip/deflate inflates to. Every failure is a
SendGrid-shaped 400, 413 or 415."""

from __future__ import annotations

import zlib
from typing import Any, TypeVar

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from control.nul import refuse_nul
from mta.core.errors import PayloadTooLarge, ValidationError
from mta.submission.send_request.request import decode_json

T = TypeVar("T")

# Content-Encoding → zlib wbits: 31 a gzip wrapper, 15 zlib's (what HTTP calls deflate).
WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
FALLBACK_LIMIT = 31_457_280


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than the limit of {limit} bytes.",
        help="Send fewer or smaller attachments, or split the request.",
    )


def inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Decompress, refusing (413) as soon as the output would pass `limit`: no zip bomb gets
    further than limit + 1 bytes. Concatenated gzip members are one body (RFC 1952)."""
    out, rest = bytearray(), data
    while rest:
        engine = zlib.decompressobj(wbits)
        try:
            out += engine.decompress(rest, limit + 1 - len(out))
        except zlib.error:
            raise ValidationError("The request body is not valid compressed data.") from None
        if len(out) > limit:
            raise too_large(limit)
        if not engine.eof:
            raise ValidationError("The compressed request body is truncated.")
        rest = engine.unused_data
        if rest and wbits != WBITS["gzip"]:
            raise ValidationError("The compressed request body has trailing data.")
    return bytes(out)


def decode_content(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body with its Content-Encoding undone (identity, gzip or deflate)."""
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return raw
    if name not in WBITS:
        raise HTTPException(
            status_code=415,
            detail=f"Content-Encoding {encoding.strip()!r} is not supported: use gzip or none.",
        )
    return inflate(raw, WBITS[name], limit)


def parse_json(body: bytes, kind: type[T]) -> T:
    """`decode_json` with the inputs it leaves to the caller made 400s too."""
    try:
        result: T = decode_json(body or b"{}", kind)
    except UnicodeDecodeError:
        raise ValidationError("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise ValidationError("The request body nests JSON too deeply.") from None
    refuse_nul(body)
    return result


async def read_body(request: Request[Any, Any, Any], kind: type[T]) -> T:
    limit = request.route_handler.resolve_request_max_body_size() or FALLBACK_LIMIT
    try:
        raw = await request.body()  # Litestar checks Content-Length, then each chunk
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    body = decode_content(raw, request.headers.get("content-encoding", ""), limit)
    return parse_json(body, kind)
