"""Dashboard forms validated as the API's JSON bodies are, errors mapped to their fields."""

from __future__ import annotations

import msgspec
import pytest

from control.ui.forms import GENERAL, field_errors, form_struct, optional, top_field
from mta.core.errors import ValidationError


class Key(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    scopes: list[str] = []


def test_a_form_becomes_the_api_struct() -> None:
    assert form_struct({"name": "ci", "scopes": ["mail.send"]}, Key) == Key("ci", ["mail.send"])


def test_a_missing_or_wrong_field_is_an_error_beside_that_field() -> None:
    with pytest.raises(ValidationError) as missing:
        form_struct({}, Key)
    assert field_errors(missing.value) == {"name": "The name parameter is required."}
    with pytest.raises(ValidationError) as wrong:
        form_struct({"name": "ci", "scopes": ["a", 3]}, Key)
    assert list(field_errors(wrong.value)) == ["scopes"]


def test_paths_name_their_top_field() -> None:
    assert top_field("$.template.name") == "template"
    assert top_field("scopes.2") == "scopes" and top_field("to[0]") == "to"
    assert top_field(None) == GENERAL and top_field("") == GENERAL
    assert optional("  ") is None and optional(" a ") == "a"
