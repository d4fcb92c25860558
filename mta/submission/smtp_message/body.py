"""The text and html bodies of a message taken over SMTP, edited in place: each text/plain or
text/html part that is not an attachment is decoded, changed, and written back as UTF-8
quoted-printable; every other byte (other parts, headers, boundaries) stays as it was."""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

import msgspec

from mta.submission.mime import POLICY
from mta.submission.send_request.request import Content
from mta.submission.send_request.validate import HTML, PLAIN

Change = Callable[[list[Content]], list[Content]]
MAX_DEPTH = 20  # multiparts nested deeper are left as they are
SEALED = ("multipart/signed", "multipart/encrypted", "multipart/digest")  # signed, or messages
REPLACED = re.compile(
    rb"(?im)^(?:content-type|content-transfer-encoding)[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*"
)
LINE_BREAK = re.compile(rb"\r?\n")
HEAD_END = re.compile(rb"\r?\n\r?\n")


class Leaf(msgspec.Struct):
    """One text part: its bytes, its header block, its type and its decoded text."""

    raw: bytes
    head: bytes
    headers: Message
    text: str
    top: bool  # the whole message: it needs MIME-Version


def rewrite_texts(data: bytes, change: Change) -> bytes:
    """`data` with its text parts given to `change` (one list, in message order) and the
    results written back; a part left equal, or one that cannot be decoded, keeps its bytes."""
    leaves: list[Leaf] = []
    pieces = _walk(data, leaves, 0)
    if not leaves:
        return data
    changed = change([Content(leaf.headers.get_content_type(), leaf.text) for leaf in leaves])
    written = [
        leaf.raw if new.value == leaf.text else _written(leaf, new.value)
        for leaf, new in zip(leaves, changed, strict=True)
    ]
    return b"".join(piece if isinstance(piece, bytes) else written[piece] for piece in pieces)


def _walk(data: bytes, leaves: list[Leaf], depth: int) -> list[bytes | int]:
    """`data` as pieces: bytes kept as they are, and indexes into `leaves` for text parts."""
    head, body = _split(data)
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    kind = headers.get_content_type()
    if kind in (PLAIN, HTML) and headers.get_content_disposition() != "attachment":
        text = _decode(headers, body)
        if text is None:
            return [data]
        leaves.append(Leaf(data, head, headers, text, depth == 0))
        return [len(leaves) - 1]
    boundary = headers.get_boundary()
    if not kind.startswith("multipart/") or kind in SEALED or not boundary or depth >= MAX_DEPTH:
        return [data]
    return [head, *_multipart(body, boundary.encode("ascii", "replace"), leaves, depth)]


def _multipart(body: bytes, boundary: bytes, leaves: list[Leaf], depth: int) -> list[bytes | int]:
    """Each part between delimiter lines walked; the preamble, the delimiters with the line
    breaks around them (RFC 2046 5.1.1) and the epilogue kept."""
    delimiter = re.compile(rb"(?:\r?\n|\A)--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|\Z)")
    pieces: list[bytes | int] = []
    start = -1  # where the current part starts; -1 before the first delimiter
    for match in delimiter.finditer(body):  # bounded by the body's length
        if start < 0:
            pieces.append(body[: match.start()])  # the preamble
        else:
            pieces.extend(_part(body[start : match.start()], leaves, depth))
        pieces.append(match.group())
        start = match.end()
        if match.group(1):  # the close delimiter: the rest is the epilogue
            pieces.append(body[start:])
            return pieces
    if start < 0:
        return [body]
    pieces.extend(_part(body[start:], leaves, depth))  # no close delimiter: the last part
    return pieces


def _part(segment: bytes, leaves: list[Leaf], depth: int) -> list[bytes | int]:
    """The bytes after a delimiter: the rest of its line break, then the part."""
    line_break = LINE_BREAK.match(segment)
    if line_break is None:
        return [segment]
    return [line_break.group(), *_walk(segment[line_break.end() :], leaves, depth + 1)]


def _split(data: bytes) -> tuple[bytes, bytes]:
    """Header block (with the empty line ending it) and body."""
    for line_break in (b"\r\n", b"\n"):
        if data.startswith(line_break):  # no headers at all
            return b"", data[len(line_break) :]
    end = HEAD_END.search(data)
    return (data, b"") if end is None else (data[: end.end()], data[end.end() :])


def _decode(headers: Message, body: bytes) -> str | None:
    """The part's text, or None when its encoding or charset is not one we can write back."""
    encoding = str(headers.get("content-transfer-encoding", "7bit")).strip().lower()
    charset = headers.get_content_charset() or "us-ascii"
    try:
        if encoding == "base64":
            raw = binascii.a2b_base64(body)
        elif encoding == "quoted-printable":
            raw = binascii.a2b_qp(body)
        elif encoding in ("7bit", "8bit", "binary"):
            raw = body
        else:
            return None
        try:
            text = raw.decode(charset)
        except UnicodeDecodeError:
            if charset not in ("us-ascii", "ascii"):
                return None
            text = raw.decode("utf-8")  # undeclared UTF-8, as many clients send it
    except (binascii.Error, LookupError, UnicodeDecodeError):
        return None
    return text.replace("\r\n", "\n")


def _written(leaf: Leaf, text: str) -> bytes:
    """The part with its new text: its other headers as they were, Content-Type with
    charset utf-8 (its other parameters kept), quoted-printable."""
    headers = leaf.headers
    kept = REPLACED.sub(b"", leaf.head).rstrip(b"\r\n")
    headers.set_param("charset", "utf-8")  # adds Content-Type when it was implied
    ours = POLICY.fold_binary("Content-Type", str(headers["Content-Type"]))
    ours += b"Content-Transfer-Encoding: quoted-printable\r\n"
    if leaf.top and headers.get("mime-version") is None:
        ours = b"MIME-Version: 1.0\r\n" + ours
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = (text if text.endswith("\n") else text + "\n").encode("utf-8")
    body = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    return (kept + b"\r\n" if kept else b"") + ours + b"\r\n" + body
