"""NUL in request text: PostgreSQL's text cannot hold it (SQLite's can) and no SendGrid field
needs it, so a JSON body, path or query string carrying one is a 400 naming where it was."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from mta.core.errors import ValidationError

# JSON carries NUL only as the escape \u0000; one preceded by an escaped backslash is text.
NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
NUL_MESSAGE = "Text may not contain NUL characters (\\u0000)."
MAX_NODES = 1_000_000


def nul_field(document: Any) -> str | None:
    """The dotted path (as SendGrid names fields: `personalizations.0.to.0.name`) of the
    first string, or object key, holding a NUL; None when there is none."""
    stack: list[tuple[str, Any]] = [("", document)]
    for _ in range(MAX_NODES):
        if not stack:
            return None
        path, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return path or None
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    return child
                stack.append((child, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), v) for i, v in enumerate(value))
    return None


def refuse_nul(body: bytes) -> None:
    """Raise ValidationError when the (already valid) JSON `body` has a NUL in any text."""
    if b"\\u0000" not in body or not NUL_ESCAPE.search(body):
        return
    raise ValidationError(NUL_MESSAGE, field=nul_field(msgspec.json.decode(body)))


def has_nul(path: str, query_string: bytes) -> bool:
    """A NUL in the (decoded) path or in the query string, percent-encoded or not."""
    return "\x00" in path or b"%00" in query_string or b"\x00" in query_string
