"""Attachments: strict base64, safe names, types and content ids, and the 30 MB limit."""

from __future__ import annotations

import base64
from typing import Any

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.submission.mime import MimeAttachment
from mta.submission.send_request.attachments import (
    MAX_TOTAL_BYTES,
    check_total_size,
    decode_content,
    prepare_attachments,
)
from mta.submission.send_request.request import Attachment, MailSend

PNG = bytes(range(256)) * 3


def _attachment(**fields: Any) -> Attachment:
    data: dict[str, Any] = {"content": base64.b64encode(PNG).decode(), "filename": "a.png"}
    data.update(fields)
    return msgspec.convert(data, Attachment)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8h", b"hello!"),
        ("aGVs\r\nbG8=", b"hello"),  # wrapped at any column
        ("aGVs\nbG8=\n", b"hello"),
        (" aGVs bG8= ", b"hello"),
        (base64.encodebytes(PNG).decode(), PNG),
    ],
)
def test_decode_content_accepts(content: str, expected: bytes) -> None:
    assert decode_content(content, "attachments.0.content") == expected


@pytest.mark.parametrize(
    "content",
    [
        "aGVsbG8",  # missing padding
        "aGVsbG8==",  # too much padding
        "aGV*bG8=",
        "aGVsbG8=aGVs",  # data after the padding
        "aGVs-G8_",  # base64url
        "h\u00e9llo===",
        "not base64 at all!",
        "=",
    ],
)
def test_decode_content_refuses(content: str) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_content(content, "attachments.3.content")
    assert failure.value.field == "attachments.3.content"
    assert failure.value.message == "The attachment content must be base64 encoded."


def test_decode_content_refuses_empty() -> None:
    with pytest.raises(ValidationError, match="at least one character in length"):
        decode_content("", "attachments.0.content")


def test_prepare_makes_shared_parts() -> None:
    wrapped = base64.encodebytes(PNG).decode()
    attachments = [
        _attachment(content=wrapped.replace("\n", "")),
        _attachment(
            filename="Logo.PNG", type="Image/PNG", disposition="inline", content_id="logo@x"
        ),
        _attachment(filename="r\u00e9sum\u00e9.pdf", type="application/pdf", content_id=""),
    ]
    first, inline, pdf = prepare_attachments(attachments)
    assert first == MimeAttachment(
        content_type="application/octet-stream",
        filename="a.png",
        inline=False,
        content_id=None,
        body=wrapped.replace("\n", "\r\n"),
        size=len(PNG),
    )
    assert all(len(line) <= 76 for line in first.body.splitlines())
    assert base64.b64decode(first.body) == PNG
    assert (inline.content_type, inline.inline, inline.content_id) == ("image/png", True, "logo@x")
    assert (pdf.filename, pdf.content_type, pdf.content_id) == (
        "r\u00e9sum\u00e9.pdf",
        "application/pdf",
        None,
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"filename": ""}, "attachments.1.filename", "filename is required."),
        ({"filename": "a\r\nb.txt"}, "attachments.1.filename", "cannot contain CRLF"),
        ({"filename": "a\nContent-Type: text/html"}, "attachments.1.filename", "CRLF"),
        ({"filename": "a\0.txt"}, "attachments.1.filename", "CRLF"),
        ({"filename": "a\u2028.txt"}, "attachments.1.filename", "CRLF"),
        ({"filename": "x" * 256}, "attachments.1.filename", "at most 255 characters"),
        ({"type": ""}, "attachments.1.type", "at least one character in length"),
        ({"type": "text/plain; charset=x"}, "attachments.1.type", "cannot contain ';'"),
        ({"type": "text/plain\r\nX: y"}, "attachments.1.type", "cannot contain ';', or CRLF"),
        ({"type": "pdf"}, "attachments.1.type", "must be a MIME type"),
        ({"type": "image/ png"}, "attachments.1.type", "must be a MIME type"),
        ({"content_id": "a\r\nb"}, "attachments.1.content_id", "cannot contain CRLF"),
        ({"content_id": "a\u2029b"}, "attachments.1.content_id", "cannot contain CRLF"),
        ({"content_id": "<logo>"}, "attachments.1.content_id", "angle brackets"),
        ({"content_id": "my logo"}, "attachments.1.content_id", "no spaces"),
        ({"content_id": "a;b"}, "attachments.1.content_id", "may hold only"),
        ({"content_id": "a" * 251}, "attachments.1.content_id", "may hold only"),
        ({"content": "%%%"}, "attachments.1.content", "must be base64 encoded"),
    ],
)
def test_prepare_refuses(fields: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as failure:
        prepare_attachments([_attachment(), _attachment(**fields)])
    assert failure.value.field == field
    assert message in failure.value.message


def _request(content: list[dict[str, str]]) -> MailSend:
    return msgspec.convert(
        {
            "personalizations": [{"to": [{"email": "a@example.com"}]}],
            "from": {"email": "b@example.com"},
            "content": content,
        },
        MailSend,
    )


def _sized(size: int) -> MimeAttachment:
    return MimeAttachment(
        content_type="application/pdf",
        filename="f",
        inline=False,
        content_id=None,
        body="",
        size=size,
    )


@pytest.mark.parametrize(
    ("content", "sizes", "field"),
    [
        ([{"type": "text/plain", "value": "x" * 100}], [MAX_TOTAL_BYTES - 101], None),
        (
            [{"type": "text/plain", "value": "x" * 100}],
            [MAX_TOTAL_BYTES - 100],
            "attachments.0.content",
        ),
        ([{"type": "text/plain", "value": "x"}], [10, MAX_TOTAL_BYTES], "attachments.1.content"),
        ([{"type": "text/plain", "value": "x" * MAX_TOTAL_BYTES}], [], "content.0.value"),
        # UTF-8 bytes count, not characters
        (
            [{"type": "text/plain", "value": "\u00e9" * (MAX_TOTAL_BYTES // 2)}],
            [],
            "content.0.value",
        ),
        ([{"type": "text/plain", "value": "\u00e9" * (MAX_TOTAL_BYTES // 2 - 1)}], [], None),
    ],
)
def test_check_total_size(
    content: list[dict[str, str]], sizes: list[int], field: str | None
) -> None:
    request, attachments = _request(content), [_sized(size) for size in sizes]
    if field is None:
        assert check_total_size(request, attachments) is None
        return
    with pytest.raises(ValidationError) as failure:
        check_total_size(request, attachments)
    assert failure.value.field == field
    assert failure.value.message == (
        "The total size of your email, including attachments, must be less than 30MB."
    )
