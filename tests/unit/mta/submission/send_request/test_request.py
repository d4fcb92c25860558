"""Decoding `/v3/mail/send` bodies: typed Structs and SendGrid-style field paths on errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.submission.send_request.request import MailSend, decode_json, field_path, is_sandbox

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


FULL: dict[str, Any] = {
    "personalizations": [
        {
            "to": [{"email": "a@example.com", "name": "A"}],
            "cc": [{"email": "c@example.com"}],
            "bcc": [{"email": "b@example.com"}],
            "from": {"email": "other@example.com", "name": "Other"},
            "subject": "Own subject",
            "headers": {"X-P": "1"},
            "substitutions": {"-name-": "Ada"},
            "dynamic_template_data": {"nested": {"x": [1, 2]}},
            "custom_args": {"p": "1"},
            "send_at": 1_700_000_000,
        }
    ],
    "from": {"email": "from@example.com", "name": "From"},
    "reply_to_list": [{"email": "r1@example.com"}, {"email": "r2@example.com", "name": "R2"}],
    "subject": "Hello -name-",
    "content": [
        {"type": "text/plain", "value": "Hi -name-"},
        {"type": "text/html", "value": "<p>Hi -name-</p>"},
    ],
    "attachments": [
        {"content": "aGVsbG8=", "filename": "a.txt", "type": "text/plain"},
        {"content": "iVBORw==", "filename": "i.png", "disposition": "inline", "content_id": "i1"},
    ],
    "template_id": "legacy-1",
    "sections": {"%s%": "section"},
    "headers": {"X-Top": "t"},
    "categories": ["one", "two"],
    "custom_args": {"order": "42"},
    "send_at": 1_700_000_100,
    "batch_id": "batch-1",
    "asm": {"group_id": 7, "groups_to_display": [7, 8]},
    "ip_pool_name": "pool",
    "mail_settings": {
        "bypass_list_management": {"enable": False},
        "bypass_spam_management": {"enable": True},
        "bypass_bounce_management": {"enable": True},
        "bypass_unsubscribe_management": {"enable": False},
        "footer": {"enable": True, "text": "-- footer", "html": "<p>footer</p>"},
        "sandbox_mode": {"enable": True},
    },
    "tracking_settings": {
        "click_tracking": {"enable": True, "enable_text": False},
        "open_tracking": {"enable": True, "substitution_tag": "%open%"},
        "subscription_tracking": {
            "enable": False,
            "text": "t",
            "html": "h",
            "substitution_tag": "%u%",
        },
        "ganalytics": {
            "enable": True,
            "utm_source": "s",
            "utm_medium": "m",
            "utm_term": "t",
            "utm_content": "c",
            "utm_campaign": "k",
        },
    },
}


def test_decode_every_field() -> None:
    request = decode_json(json.dumps(FULL).encode(), MailSend)
    p = request.personalizations[0]
    assert p.from_ is not None and p.from_.email == "other@example.com"
    assert (p.substitutions, p.send_at, p.cc[0].email) == (
        {"-name-": "Ada"},
        1_700_000_000,
        "c@example.com",
    )
    assert [a.email for a in request.reply_to_list] == ["r1@example.com", "r2@example.com"]
    assert [(a.filename, a.disposition, a.content_id) for a in request.attachments] == [
        ("a.txt", None, None),
        ("i.png", "inline", "i1"),
    ]
    assert request.sections == {"%s%": "section"}
    assert (request.send_at, request.batch_id, request.ip_pool_name) == (
        1_700_000_100,
        "batch-1",
        "pool",
    )
    assert request.asm is not None and request.asm.groups_to_display == [7, 8]
    settings = request.mail_settings
    assert settings.footer is not None and settings.footer.text == "-- footer"
    assert is_sandbox(request)
    tracking = request.tracking_settings
    assert tracking.ganalytics is not None and tracking.ganalytics.utm_campaign == "k"
    assert (
        tracking.open_tracking is not None and tracking.open_tracking.substitution_tag == "%open%"
    )


def test_optional_fields_default_and_accept_null() -> None:
    body = dict(VALID, reply_to=None, template_id=None, asm=None, ip_pool_name=None, send_at=None)
    body["attachments"] = [
        {"content": "eA==", "filename": "x", "type": None, "disposition": None, "content_id": None}
    ]
    request = decode_json(json.dumps(body).encode(), MailSend)
    assert request.attachments[0].disposition is None
    assert request.mail_settings.sandbox_mode is None and not is_sandbox(request)
    assert request.personalizations[0].from_ is None
    assert request.reply_to_list == [] and request.sections == {}


@pytest.mark.parametrize(
    ("settings", "sandbox"),
    [
        ({}, False),
        ({"sandbox_mode": {}}, False),
        ({"sandbox_mode": {"enable": False}}, False),
        ({"sandbox_mode": {"enable": True}}, True),
    ],
)
def test_is_sandbox(settings: dict[str, Any], sandbox: bool) -> None:
    request = decode_json(json.dumps(dict(VALID, mail_settings=settings)).encode(), MailSend)
    assert is_sandbox(request) is sandbox


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
        ({"categories": ["a", 1]}, "categories.1", "Categories must be an array of strings."),
        ({"custom_args": {"n": 1}}, "custom_args", "All values of custom arguments object must"),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}], "custom_args": {"a": []}}]},
            "personalizations.0.custom_args",
            "All values of custom arguments object must be strings",
        ),
        ({"headers": {"X-A": 1}}, "headers", "The header values must be strings."),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}], "headers": {"X": True}}]},
            "personalizations.0.headers",
            "All values of the headers object must be strings.",
        ),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}], "substitutions": {"-a-": 1}}]},
            "personalizations.0.substitutions",
            "The substitution values must be an object of key/value pairs",
        ),
        ({"sections": {"%s%": 2}}, "sections", "The section values must be strings."),
        ({"send_at": "tomorrow"}, "send_at", "The send_at parameter is expecting a Unix"),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}], "send_at": 1.5}]},
            "personalizations.0.send_at",
            "The send_at parameter is expecting a Unix timestamp",
        ),
        ({"batch_id": 5}, "batch_id", "The batch_id must be a string."),
        ({"asm": {"group_id": "x"}}, "asm.group_id", "The ASM group ID must be an integer."),
        ({"asm": {}}, "asm.group_id", "The group_id parameter is required."),
        (
            {"asm": {"group_id": 1, "groups_to_display": ["a"]}},
            "asm.groups_to_display.0",
            "The ASM Group IDs to display must be an array of integers.",
        ),
        ({"ip_pool_name": 7}, "ip_pool_name", "The name of your IP pool must be a string."),
        ({"template_id": 7}, "template_id", "The template ID must be a string."),
        (
            {"attachments": [{"content": "eA==", "filename": "x", "disposition": "hidden"}]},
            "attachments.0.disposition",
            'The disposition of your attachment can be either "inline" or "attachment". '
            "You provided 'hidden'.",
        ),
        (
            {"attachments": [{"content": "eA=="}]},
            "attachments.0.filename",
            "The filename parameter is required.",
        ),
        (
            {"mail_settings": {"sandbox_mode": {"enable": "yes"}}},
            "mail_settings.sandbox_mode.enable",
            "Expected `bool`, got `str`",
        ),
        ({"mail_settings": {"bcc": {"enable": True}}}, "mail_settings.bcc", "Unknown field"),
        (
            {"tracking_settings": {"open_tracking": {"enable": 1}}},
            "tracking_settings.open_tracking.enable",
            "Expected `bool`, got `int`",
        ),
        (
            {"personalizations": [{"to": [{"email": "a@x.example"}], "from": "f@x.example"}]},
            "personalizations.0.from",
            "Expected `object | null`, got `str`",
        ),
        ({"reply_to_list": [{"name": "x"}]}, "reply_to_list.0.email", "The email parameter"),
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
    [b"", b"{", b"{nope}", b'{"personalizations": [}', b"not json"],
)
def test_invalid_json(body: bytes) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_json(body, MailSend)
    assert failure.value.field is None
    assert failure.value.message.startswith("The request body is not valid JSON: ")


@pytest.mark.parametrize("body", [b"\xff\xfe", b'{"subject": "\xff"}'])
def test_invalid_utf8_is_named(body: bytes) -> None:
    with pytest.raises(ValidationError) as failure:
        decode_json(body, MailSend)
    assert failure.value.message == "The request body is not valid UTF-8."


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
        (
            "Expected `str`, got `int` - at `$.custom_args[...]`",
            ("All values of custom arguments object must be strings", "custom_args"),
        ),
        (
            "Expected `int`, got `str` - at `$.personalizations[3].send_at`",
            (
                "The send_at parameter is expecting a Unix timestamp as an integer. We will send "
                "immediately if you include a send_at timestamp that is in the past.",
                "personalizations.3.send_at",
            ),
        ),
        (
            "Invalid enum value 'x' - at `$.attachments[2].disposition`",
            (
                'The disposition of your attachment can be either "inline" or "attachment". '
                "You provided 'x'.",
                "attachments.2.disposition",
            ),
        ),
        # SendGrid words only replace type errors, and only at the paths they name
        ("Expected `str`, got `int` - at `$.subject`", ("Expected `str`, got `int`", "subject")),
        (
            "Object contains unknown field `x` - at `$.headers`",
            ("Unknown field 'x'.", "headers.x"),
        ),
    ],
)
def test_field_path(message: str, expected: tuple[str, str | None]) -> None:
    assert field_path(message) == expected
