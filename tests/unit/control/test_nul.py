"""NUL in request text is refused with the field that held it: only a real \\u0000 escape
counts (not an escaped backslash before `u0000`), in values, keys and the URL."""

from __future__ import annotations

import pytest

from control.nul import has_nul, refuse_nul
from mta.core.errors import ValidationError


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "a\\u0000"}', "name"),
        (b'{"name": "\\\\\\u0000"}', "name"),  # an escaped backslash, then the NUL escape
        (b'{"p": [{"to": [{"email": "a@x", "name": "\\u0000"}]}]}', "p.0.to.0.name"),
        (b'{"custom_args": {"k\\u0000": "v"}}', "custom_args.k\x00"),
        (b'["ok", "\\u0000"]', "1"),
    ],
)
def test_a_nul_is_refused_and_named(body: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        refuse_nul(body)
    assert refused.value.field == field
    assert "NUL" in refused.value.message


@pytest.mark.parametrize(
    "body",
    [b"{}", b'{"name": "\\\\u0000"}', b'{"name": "u0000"}'],
)
def test_text_without_nul_passes(body: bytes) -> None:
    refuse_nul(body)


@pytest.mark.parametrize(
    ("path", "query", "refused"),
    [
        ("/v3/templates/a\x00b", b"", True),
        ("/v3/messages", b"query=subject%3D%22a%00%22", True),
        ("/v3/messages", b"limit=10", False),
        ("/v3/templates/a%00b", b"", False),  # %2500 decoded: the text "%00", not a NUL
    ],
)
def test_nul_in_the_url(path: str, query: bytes, refused: bool) -> None:
    assert has_nul(path, query) is refused
