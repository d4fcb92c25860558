"""Forms turned into the API's own request Structs, so a form is validated exactly as the
JSON body would be, and the API's errors mapped back to the fields they name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from mta.core.errors import ScaiSendError, ValidationError
from mta.submission.send_request.request import field_path

T = TypeVar("T")
GENERAL = ""  # the key of an error that names no field: shown above the form


def form_struct(fields: Mapping[str, Any], kind: type[T]) -> T:
    """`fields` (form values, already shaped: lists for arrays, None for "not given") as
    `kind`, raising ValidationError with the field path as the JSON API does."""
    try:
        return msgspec.convert(dict(fields), kind, strict=False)
    except msgspec.ValidationError as exc:
        text, path = field_path(str(exc))
        raise ValidationError(text, field=path) from None


def field_errors(exc: ScaiSendError) -> dict[str, str]:
    """The error keyed by the top-level field it names (`$.name` and `name` are `name`;
    `scopes[2]` is `scopes`), or by GENERAL."""
    return {top_field(exc.field): exc.message}


def top_field(path: str | None) -> str:
    if not path:
        return GENERAL
    name = path.removeprefix("$.").removeprefix("$")
    for stop in ".[":
        name = name.split(stop, 1)[0]
    return name


def optional(value: str | None) -> str | None:
    """A text field left empty is "not given", as a JSON body that leaves the key out."""
    stripped = (value or "").strip()
    return stripped or None
