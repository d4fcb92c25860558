"""Reading bodies: bounded inflation, encodings, hostile JSON, and read_body through a tiny app
(Content-Length and streamed limits, every failure in SendGrid's shape)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar import Litestar, Request, post
from litestar.exceptions import HTTPException
from litestar.testing import TestClient

from control.errors import EXCEPTION_HANDLERS
from control.routes.common import decode_content, inflate, parse_json, read_body
from mta.core.errors import PayloadTooLarge, ValidationError


class Thing(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    data: Any = None


@pytest.mark.parametrize(
    ("data", "wbits", "limit", "expected"),
    [
        (gzip.compress(b"hello", mtime=0), 31, 5, b"hello"),
        (
            gzip.compress(b"ab", mtime=0) + gzip.compress(b"cd", mtime=0),
            31,
            4,
            b"abcd",
        ),  # two gzip members
        (zlib.compress(b"hello"), 15, 100, b"hello"),
        (gzip.compress(b"", mtime=0), 31, 0, b""),
    ],
)
def test_inflate(data: bytes, wbits: int, limit: int, expected: bytes) -> None:
    assert inflate(data, wbits, limit) == expected


@pytest.mark.parametrize(
    ("data", "wbits", "limit", "error"),
    [
        (gzip.compress(b"hello", mtime=0), 31, 4, PayloadTooLarge),
        (gzip.compress(b"ab", mtime=0) + gzip.compress(b"cd", mtime=0), 31, 3, PayloadTooLarge),
        (gzip.compress(b"\0" * 50_000_000, mtime=0), 31, 1000, PayloadTooLarge),  # a bomb
        (b"not compressed", 31, 100, ValidationError),
        (gzip.compress(b"hello", mtime=0)[:-6], 31, 100, ValidationError),  # truncated
        (zlib.compress(b"x") + b"junk", 15, 100, ValidationError),  # trailing data
        (gzip.compress(b"x", mtime=0), 15, 100, ValidationError),  # gzip sent as deflate
    ],
)
def test_inflate_refuses(data: bytes, wbits: int, limit: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        inflate(data, wbits, limit)


@pytest.mark.parametrize(
    ("encoding", "raw", "expected"),
    [
        ("", b"{}", b"{}"),
        ("identity", b"{}", b"{}"),
        (" GZIP ", gzip.compress(b"{}", mtime=0), b"{}"),
        ("x-gzip", gzip.compress(b"{}", mtime=0), b"{}"),
        ("deflate", zlib.compress(b"{}"), b"{}"),
    ],
)
def test_decode_content(encoding: str, raw: bytes, expected: bytes) -> None:
    assert decode_content(raw, encoding, 100) == expected


@pytest.mark.parametrize("encoding", ["br", "compress", "gzip, gzip", "zstd"])
def test_decode_content_refuses_other_encodings_with_415(encoding: str) -> None:
    with pytest.raises(HTTPException) as caught:
        decode_content(b"{}", encoding, 100)
    assert caught.value.status_code == 415


@pytest.mark.parametrize(
    ("body", "says", "field"),
    [
        (b"{", "not valid JSON", None),
        (b'{"name": "a"} trailing', "not valid JSON", None),
        (b'{"name": NaN}', "not valid JSON", None),
        (b'{"name": "a", "data": Infinity}', "not valid JSON", None),
        (b'{"name": "a", "data": 1e999}', "out of range", "data"),
        (b'{"name": "a", "data": ' + b"7" * 5000 + b"}", "out of range", "data"),
        (b'{"name": "\xff"}', "not valid UTF-8", None),
        (b'{"name": "a", "data": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply", None),
        (b'{"name": "a", "other": 1}', "Unknown field 'other'", "other"),
        (b"{}", "name parameter is required", "name"),
        (b'{"name": 5}', "Expected `str`", "name"),
        (b"\xef\xbb\xbf{}", "not valid JSON", None),
    ],
)
def test_parse_json_refuses(body: bytes, says: str, field: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_json(body, Thing)
    assert says in caught.value.message
    assert caught.value.field == field


def test_parse_json_reads_an_empty_body_as_an_empty_object() -> None:
    with pytest.raises(ValidationError, match="name parameter is required"):
        parse_json(b"", Thing)


@post("/things", status_code=200)
async def take_thing(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"name": (await read_body(request, Thing)).name}


@pytest.fixture
def client() -> Iterator[Any]:
    app = Litestar(
        [take_thing],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        request_max_body_size=1000,
        openapi_config=None,
        logging_config=None,
    )
    with TestClient(app) as client:
        yield client


def test_read_body_accepts_plain_and_gzip(client: Any) -> None:
    assert client.post("/things", content=b'{"name": "a"}').json() == {"name": "a"}
    zipped = gzip.compress(b'{"name": "z"}')
    response = client.post("/things", content=zipped, headers={"Content-Encoding": "gzip"})
    assert response.json() == {"name": "z"}


def chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 100):
        yield b" " * 100


@pytest.mark.parametrize(
    ("content", "headers", "status", "says"),
    [
        (b" " * 1001, {}, 413, "limit of 1000 bytes"),
        (chunks(2000), {}, 413, "limit of 1000 bytes"),  # streamed, no Content-Length
        (gzip.compress(b" " * 5000, mtime=0), {"Content-Encoding": "gzip"}, 413, "limit of 1000"),
        (b"{}", {"Content-Encoding": "br"}, 415, "not supported"),
        (b'{"name": "a", "x": 1}', {}, 400, "Unknown field"),
        (b'{"name": "a"}', {"Content-Length": "nope"}, 400, "content-length"),
    ],
    ids=["content-length", "chunked", "gzip-bomb", "brotli", "unknown-field", "bad-length"],
)
def test_read_body_failures_are_sendgrid_shaped(
    client: Any, content: Any, headers: dict[str, str], status: int, says: str
) -> None:
    response = client.post("/things", content=content, headers=headers)
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert says.lower() in error["message"].lower()
    assert set(error) == {"message", "field", "help"}
