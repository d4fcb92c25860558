"""Header values for the messages we build and the compat32 policy that writes them: RFC 2047
encoded words, address lists, RFC 2231 parameters. No line passes 998 octets, unfolding gives
back each value exactly, and nothing in a value can start a new header."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from email.header import Header
from email.policy import Compat32
from email.utils import formataddr, quote
from typing import Any

from mta.core.errors import ValidationError
from mta.submission.send_request.request import Address

# Everything that could end a header line, as the intake's validation refuses it; checked
# again here so no caller can forge a header by forgetting to validate.
BREAKING_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
WIDTH = 78  # RFC 5322's SHOULD; 998 is its MUST
LONGEST_RUN = 900  # a run without a space longer than this cannot stay under 998
LONGEST_PLAIN_NAME = 500
PARAM_CHUNK = 60


class FoldingPolicy(Compat32):
    """compat32, but an ASCII value is folded only at the spaces it has, so unfolding gives
    it back exactly (compat32 also breaks after ';' and ',', adding spaces) and a value that
    fits one line is written without its costly Header machinery."""

    def fold(self, name: str, value: Any) -> str:
        if isinstance(value, str) and (value.isascii() or is_raw_utf8(value)):
            lines = fold_lines(value, len(name) + 2)
            return f"{name}: " + (self.linesep + " ").join(lines) + self.linesep
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        return self.fold(name, value).encode("ascii", "surrogateescape")


def fold_lines(text: str, used: int, width: int = WIDTH) -> list[str]:
    """`text` in lines of at most `width` (the first after `used` columns) where its spaces
    allow; joined by CRLF + one space, which stands for the space each break replaced."""
    words = text.split(" ")
    lines, room = [words[0]], width - used
    for word in words[1:]:
        if word and len(lines[-1]) + 1 + len(word) > room:
            lines.append(word)
            room = width - 1
        else:
            lines[-1] += " " + word
    return lines


def guard(name: str, value: str) -> None:
    if BREAKING_RE.search(value):
        raise ValidationError(f"The {name} header may not contain line breaks.", field=None)


def header_value(name: str, text: str) -> str | Header:
    """`text` as it is (the policy folds it) when it is ASCII without a run too long to fold
    under 998 octets; RFC 2047 encoded words otherwise."""
    guard(name, text)
    if text.isascii() and (len(text) <= LONGEST_RUN or _longest_run(text) <= LONGEST_RUN):
        return text
    return Header(text, "utf-8", header_name=name)


def _longest_run(text: str) -> int:
    return max((len(word) for word in text.split(" ")), default=0)


def format_address(address: Address) -> str:
    return formataddr((address.name or "", address.email))


def addresses(name: str, items: Sequence[Address]) -> str | Header:
    """An address list; display names that are not plain ASCII become encoded words."""
    for item in items:
        guard(name, item.email)
        guard(name, item.name or "")
    if not all(item.email.isascii() for item in items):
        return ", ".join(utf8_address(item) for item in items)
    if all(_plain(item) for item in items):
        return ", ".join(format_address(item) for item in items)
    header = Header(header_name=name)
    for index, item in enumerate(items):
        tail = "," if index < len(items) - 1 else ""
        if _plain(item):
            header.append(format_address(item) + tail)
        else:
            header.append(item.name or "", "utf-8")
            header.append(f"<{item.email}>{tail}")
    return header


def utf8_address(item: Address) -> str:
    """An address as RFC 6532 writes it: the address in raw UTF-8 (carried here as surrogate
    escapes, which `fold_binary` turns back into bytes), the name an encoded word. Only a
    hop that speaks SMTPUTF8 gets such a message (see mta/delivery/pipelining.py)."""
    raw = item.email.encode("utf-8").decode("ascii", "surrogateescape")
    if not item.name:
        return raw
    display = item.name if _plain(item) else Header(item.name, "utf-8").encode()
    return formataddr((display, "x@x")).rpartition(" <")[0] + f" <{raw}>"


def is_raw_utf8(value: str) -> bool:
    """ASCII apart from surrogate escapes of raw bytes (see `utf8_address`)."""
    return all(ord(char) < 128 or 0xDC80 <= ord(char) <= 0xDCFF for char in value)


def _plain(item: Address) -> bool:
    name = item.name or ""
    return name.isascii() and len(name) <= LONGEST_PLAIN_NAME


def with_param(name: str, head: str, key: str, param: str) -> str:
    """`head; key="param"`, or for a non-ASCII or long parameter RFC 2231's
    `key*0*=utf-8''…; key*1*=…` continuations (each fits a folded line)."""
    guard(name, param)
    if param.isascii() and len(param) <= PARAM_CHUNK:
        return f'{head}; {key}="{quote(param)}"'
    encoded = urllib.parse.quote(param, safe="", encoding="utf-8")
    chunks, start = [], 0
    while start < len(encoded):
        end = min(start + PARAM_CHUNK, len(encoded))
        if end < len(encoded) and "%" in encoded[end - 2 : end]:
            end = encoded.rindex("%", end - 2, end)  # keep each %XX whole
        chunks.append(encoded[start:end])
        start = end
    segments = [f"{key}*{i}*={chunk}" for i, chunk in enumerate(chunks)]
    segments[0] = f"{key}*0*=utf-8''{chunks[0]}"
    return "; ".join([head, *segments])
