"""The optional fields of a send request: SendGrid's limits and words, each naming its field."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.submission.send_request.options import check_options
from mta.submission.send_request.request import MailSend


def _request(**overrides: Any) -> MailSend:
    data: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "to@example.com"}]}],
        "from": {"email": "from@example.com"},
        "subject": "Hello",
        "content": [{"type": "text/plain", "value": "Hi"}],
    }
    data.update(overrides)
    return msgspec.convert(data, MailSend)


def _with_personalization(**fields: Any) -> dict[str, Any]:
    return {"personalizations": [{"to": [{"email": "to@example.com"}], **fields}]}


def _addresses(count: int) -> list[dict[str, str]]:
    return [{"email": f"r{i}@example.com"} for i in range(count)]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"reply_to_list": _addresses(1000)},
        {"reply_to_list": [{"email": "a@example.com", "name": "A"}, {"email": "b@example.com"}]},
        {"categories": ["c" * 255, *(f"c{i}" for i in range(9))]},
        {"categories": ["Caf\u00e9", "caf\u00e9".upper()]},
        {"custom_args": {"k": "v" * 9_998}},
        {"custom_args": {"a": "1"}, **_with_personalization(custom_args={"a": "x" * 9_998})},
        _with_personalization(substitutions={"-a-": "line one\nline two"}),
        _with_personalization(substitutions={"-a-": "x" * 9_997}),
        {"sections": {"%s%": "any\r\ntext"}},
        {"asm": {"group_id": 1, "groups_to_display": list(range(25))}},
        {"ip_pool_name": "ab"},
        {"ip_pool_name": "p" * 64},
        {"mail_settings": {"bypass_list_management": {"enable": True}}},
        {
            "mail_settings": {
                "bypass_list_management": {"enable": True},
                "bypass_spam_management": {"enable": False},
            }
        },
        {
            "mail_settings": {
                "bypass_spam_management": {"enable": True},
                "bypass_bounce_management": {"enable": True},
                "bypass_unsubscribe_management": {"enable": True},
            }
        },
    ],
)
def test_accepts(overrides: dict[str, Any]) -> None:
    assert check_options(_request(**overrides)) is None  # raises on refusal


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"reply_to": {"email": "a@example.com"}, "reply_to_list": _addresses(1)},
            "reply_to_list",
            "reply_to is mutually exclusive with reply_to_list.",
        ),
        (
            {"reply_to_list": _addresses(1001)},
            "reply_to_list",
            "There is a limit of 1000 reply_to emails per mail/send request.",
        ),
        (
            {"reply_to_list": [{"email": "a@example.com"}, {"email": "A@EXAMPLE.com"}]},
            "reply_to_list.1.email",
            "Each email address in the reply_to_list should be unique.",
        ),
        (
            {"reply_to_list": [{"email": "a@example.com"}, {"email": "nope"}]},
            "reply_to_list.1.email",
            "Does not contain a valid address.",
        ),
        (
            {"reply_to_list": [{"email": "a@example.com", "name": "A\r\nBcc: x@y.example"}]},
            "reply_to_list.0.name",
            "Names may not contain CR, LF",
        ),
        (
            {"categories": [f"c{i}" for i in range(11)]},
            "categories",
            "There is a limit of 10 categories for each email that is sent. "
            "You provided 11 categories.",
        ),
        (
            {"categories": ["ok", "c" * 256]},
            "categories.1",
            "Each category must not be longer than 255 characters.",
        ),
        (
            {"categories": ["a", "b", "a"]},
            "categories.2",
            "The categories must be a unique list, and you have included a more than once.",
        ),
        ({"categories": ["a\nb"]}, "categories.0", "Categories may not contain CR, LF"),
        ({"categories": ["a\u2029b"]}, "categories.0", "Categories may not contain CR, LF"),
        ({"custom_args": {"k": "a\r\nb"}}, "custom_args.k", "Custom arguments may not contain"),
        ({"custom_args": {"k\n": "v"}}, "custom_args.k\n", "Custom arguments may not contain"),
        ({"custom_args": {"k": "a\0"}}, "custom_args.k", "Custom arguments may not contain"),
        (
            _with_personalization(custom_args={"x": "\u2028"}),
            "personalizations.0.custom_args.x",
            "Custom arguments may not contain",
        ),
        (
            {"custom_args": {"k": "v" * 10_000}},
            "custom_args",
            "The combined size of both global and personalization custom arguments may not "
            "exceed 10,000 bytes per personalization.",
        ),
        (
            {
                "custom_args": {"a": "1" * 5_000},
                **_with_personalization(custom_args={"b": "2" * 5_000}),
            },
            "personalizations.0.custom_args",
            "may not exceed 10,000 bytes per personalization",
        ),
        (
            _with_personalization(substitutions={"": "x"}),
            "personalizations.0.substitutions",
            "A substitution tag may not be empty.",
        ),
        (
            _with_personalization(substitutions={"-a-": "\u00e9" * 5_000}),
            "personalizations.0.substitutions",
            "Substitutions are limited to 10,000 bytes per personalization.",
        ),
        ({"sections": {"": "x"}}, "sections", "A section tag may not be empty."),
        (
            {"asm": {"group_id": 1, "groups_to_display": list(range(26))}},
            "asm.groups_to_display",
            "There is a limit of 25 unsubscribe groups",
        ),
        ({"ip_pool_name": "a"}, "ip_pool_name", "2 to 64 characters"),
        ({"ip_pool_name": "p" * 65}, "ip_pool_name", "2 to 64 characters"),
        ({"ip_pool_name": "pool\r\nX: y"}, "ip_pool_name", "may not contain CR, LF"),
        (
            {
                "mail_settings": {
                    "bypass_list_management": {"enable": True},
                    "bypass_bounce_management": {"enable": True},
                }
            },
            "mail_settings.bypass_bounce_management",
            "bypass_list_management cannot be combined with bypass_bounce_management.",
        ),
    ],
)
def test_refuses(overrides: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as failure:
        check_options(_request(**overrides))
    assert failure.value.field == field
    assert message in failure.value.message
