"""Decoding `/v3/mail/send` bodies: typed Structs and SendGrid-style field paths on errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mta.errors import ValidationError
from mta.intake.request import MailSend, decode_json, field_path

VALID: dict[str, Any] = {
    "personalizations": [
        {"to": [{"email": "a@example.com", "name": "A"}], "dynamic_template_data": {"n": 1}}
    ],
    "from": {"email": "from@example.com"},
    "subject": "Hello",
    "content": [{"type": "text/plain", "value": "Hi"}],
    "custom_args": {"order": "42"},
}


def _body(**changes: Any) -> bytes:
    data = json.loads(json.dumps(VALID))
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


def test_decode_valid_body() -> None:
    request = decode_json(_body(), MailSend)
    assert isinstance(request, MailSend)
    assert request.from_.email == "from@example.com"
    assert request.personalizations[0].to[0].name == "A"
    assert request.personalizations[0].dynamic_template_data == {"n": 1}
    assert request.personalizations[0].cc == []
    assert request.custom_args == {"order": "42"}
    assert request.template_id is None


def _to(*items: Any) -> list[dict[str, Any]]:
    return [{"to": list(items)}]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"personalizations": _to({"email": "a@example.com"}, {"email": 5})},
            "personalizations.0.to.1.email",
            "Expected `str`, got `int`",
        ),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}]}, {"to": [{"name": "n"}]}]},
            "personalizations.1.to.0.email",
            "The email parameter is required.",
        ),
        (
            {"personalizations": [{"cc": [{"email": "a@example.com"}]}]},
            "personalizations.0.to",
            "The to parameter is required.",
        ),
        (
            {"personalizations": [{"to": [], "x_bogus": 1}]},
            "personalizations.0.x_bogus",
            "Unknown field 'x_bogus'.",
        ),
        (
            {"personalizations": _to({"email": "a@example.com", "nam": "typo"})},
            "personalizations.0.to.0.nam",
            "Unknown field 'nam'.",
        ),
        ({"from": {"email": "f@x.example", "nm": 1}}, "from.nm", "Unknown field 'nm'."),
        ({"from": {"name": "No Email"}}, "from.email", "The email parameter is required."),
        ({"from": "from@example.com"}, "from", "Expected `object`, got `str`"),
        ({"personalizations": {}}, "personalizations", "Expected `array`, got `object`"),
        ({"subject": 5}, "subject", "Expected `str | null`, got `int`"),
        (
            {"content": [{"type": "text/plain"}]},
            "content.0.value",
            "The value parameter is required.",
        ),
        ({"categories": ["a", 1]}, "categories.1", "Expected `str`, got `int`"),
        ({"custom_args": {"n": 1}}, "custom_args", "Expected `str`, got `int`"),
        ({"reply_to": {"email": 1}}, "reply_to.email", "Expected `str`, got `int`"),
    ],
)
def test_decode_errors_name_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_json(_body(**changes), MailSend)
    assert failure.value.field is not None
    assert failure.value.field.startswith(field)
    assert failure.value.message.startswith(message)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"from": None}, "from", "The from parameter is required."),
        (
            {"personalizations": None},
            "personalizations",
            "The personalizations parameter is required.",
        ),
        ({"bogus": 1}, "bogus", "Unknown field 'bogus'."),
    ],
)
def test_decode_top_level_errors_name_the_field(
    changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_json(_body(**changes), MailSend)
    assert (failure.value.field, failure.value.message) == (field, message)


@pytest.mark.parametrize(
    "body",
    [b"", b"{", b"{nope}", b'{"personalizations": [}', b"\xff\xfe", b"not json"],
)
def test_invalid_json(body: bytes) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_json(body, MailSend)
    assert failure.value.field is None
    assert failure.value.message.startswith("The request body is not valid JSON: ")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Expected `str`, got `int` - at `$.personalizations[0].to[1].email`",
            ("Expected `str`, got `int`", "personalizations.0.to.1.email"),
        ),
        (
            "Object missing required field `to` - at `$.personalizations[12]`",
            ("The to parameter is required.", "personalizations.12.to"),
        ),
        ("Object contains unknown field `x` - at `$.from`", ("Unknown field 'x'.", "from.x")),
        ("Expected `object`, got `int` - at `$.from_`", ("Expected `object`, got `int`", "from")),
        ("Expected `object`, got `array`", ("Expected `object`, got `array`", None)),
    ],
)
def test_field_path(message: str, expected: tuple[str, str | None]) -> None:
    assert field_path(message) == expected
