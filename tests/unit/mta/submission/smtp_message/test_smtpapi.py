"""X-SMTPAPI: decoding into the typed Struct, refusing what is malformed or unsupported, and
removing the header (folded lines included) while leaving every other byte alone."""

from __future__ import annotations

import json

import pytest

from mta.core.errors import ValidationError
from mta.submission.smtp_message.smtpapi import MAX_BYTES, SmtpApi, decode_smtpapi, read_smtpapi

NOW = 1_700_000_000.0
HEAD = b"From: app@sender.example\r\nTo: bob@example.net\r\n"
TAIL = b'Subject: hi\r\n\r\nX-SMTPAPI: {"category": "body, not a header"}\r\n'


def with_header(field: bytes) -> bytes:
    return HEAD + field + TAIL


def field_of(value: object) -> bytes:
    """An X-SMTPAPI field whose JSON keeps non-ASCII characters as raw UTF-8."""
    return b"X-SMTPAPI: " + json.dumps(value, ensure_ascii=False).encode() + b"\r\n"


@pytest.mark.parametrize(
    ("field", "categories", "custom_args"),
    [
        (b'X-SMTPAPI: {"category": "welcome"}\r\n', ["welcome"], {}),
        (b'x-smtpapi:{"category": ["a", "b"]}\r\n', ["a", "b"], {}),
        (
            b'X-SMTPAPI: {"unique_args": {"order": "42", "user": "7"}}\r\n',
            [],
            {"order": "42", "user": "7"},
        ),
        (  # folded over three lines, as SendGrid's client libraries write long headers
            b'X-SMTPAPI: {"category": ["welcome"],\r\n "unique_args":\r\n\t{"order": "42"}}\r\n',
            ["welcome"],
            {"order": "42"},
        ),
        (
            field_of({"category": "caf\u00e9", "unique_args": {"k\u00e9y": "\u30ab\u30c6"}}),
            ["caf\u00e9"],
            {"k\u00e9y": "\u30ab\u30c6"},
        ),
        (b'X-SMTPAPI: {"category": "\\u30ab\\u30c6"}\r\n', ["\u30ab\u30c6"], {}),
        (  # accepted and ignored: filters, pools, past send_at, unknown keys
            b'X-SMTPAPI: {"filters": {"footer": {"settings": {"enable": 1}}, "nope": {}},'
            b' "ip_pool": "p", "send_at": 1600000000, "future": 1}\r\n',
            [],
            {},
        ),
        (b"X-SMTPAPI: {}\r\n", [], {}),
    ],
)
def test_read_smtpapi_decodes_and_strips(
    field: bytes, categories: list[str], custom_args: dict[str, str]
) -> None:
    api, stripped = read_smtpapi(with_header(field), now=NOW)
    assert (api.categories, api.unique_args) == (categories, custom_args)
    assert stripped == HEAD + TAIL


def test_without_the_header_the_message_is_untouched() -> None:
    data = HEAD + TAIL
    api, stripped = read_smtpapi(data, now=NOW)
    assert stripped is data
    assert api == SmtpApi()


def test_a_message_of_headers_only_loses_its_last_header() -> None:
    data = HEAD + b'X-SMTPAPI: {"category": "x"}'
    api, stripped = read_smtpapi(data, now=NOW)
    assert api.categories == ["x"] and stripped == HEAD


def test_keeps_send_at_and_ip_pool() -> None:
    api, _ = read_smtpapi(
        with_header(b'X-SMTPAPI: {"ip_pool": "bulk", "send_at": 1699999999}\r\n'), now=NOW
    )
    assert (api.ip_pool, api.send_at) == ("bulk", 1699999999)


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (b"X-SMTPAPI: {not json\r\n", "not valid JSON"),
        (b"X-SMTPAPI: \r\n", "not valid JSON"),
        (b'X-SMTPAPI: ["category"]\r\n', "Expected `object`, got `array`"),
        (b'X-SMTPAPI: "welcome"\r\n', "Expected `object`, got `str`"),
        (b'X-SMTPAPI: {"category": 5}\r\n', "at category"),
        (b'X-SMTPAPI: {"category": ["a", 1]}\r\n', "at category"),
        (b'X-SMTPAPI: {"unique_args": {"order": 42}}\r\n', "at unique_args"),
        (b'X-SMTPAPI: {"unique_args": ["a"]}\r\n', "at unique_args"),
        (b'X-SMTPAPI: {"send_at": "tomorrow"}\r\n', "at send_at"),
        (b'X-SMTPAPI: {"asm_group_id": 1.5}\r\n', "at asm_group_id"),
        (b'X-SMTPAPI: {"filters": ["footer"]}\r\n', "at filters"),
        (b'X-SMTPAPI: {"filters": {"footer": true}}\r\n', "at filters.footer"),
        (b'X-SMTPAPI: {"filters": {"x": {"settings": {"enable": 1}}}}\r\n', "unknown filter"),
        (b'X-SMTPAPI: {"to": ["a@example.com"]}\r\n', "`to` are not supported"),
        (b'X-SMTPAPI: {"to": null}\r\n', "`to` are not supported"),
        (b'X-SMTPAPI: {"sub": {"-name-": ["Ada"]}}\r\n', "substitutions"),
        (b'X-SMTPAPI: {"section": {"a": "b"}}\r\n', "sections"),
        (b'X-SMTPAPI: {"send_each_at": [1]}\r\n', "send_each_at"),
        (b'X-SMTPAPI: {"send_at": 1700259300}\r\n', "more than 72 hours"),
        (b'X-SMTPAPI: {"category": "a\\r\\nBcc: x"}\r\n', "CR, LF or NUL"),
        (field_of({"category": [str(n) for n in range(11)]}), "too many categories"),
        (
            b'X-SMTPAPI: {"category": "a"}\r\nX-Other: 1\r\nX-SMTPAPI: {"category": "b"}\r\n',
            "only once",
        ),
        (b'X-SMTPAPI: {"category": "\xff"}\r\n', "not valid UTF-8"),
        (
            b'X-SMTPAPI: {"unique_args": {"k": "' + b"v" * MAX_BYTES + b'"}}\r\n',
            "larger than 10000 bytes",
        ),
    ],
)
def test_malformed_or_unsupported_headers_are_refused(field: bytes, reason: str) -> None:
    with pytest.raises(ValidationError) as refused:
        read_smtpapi(with_header(field), now=NOW)
    assert refused.value.message.startswith("Invalid X-SMTPAPI header: ")
    assert reason in refused.value.message
    assert refused.value.field == "X-SMTPAPI"


def test_send_at_up_to_72_hours_ahead_is_kept_for_the_scheduler() -> None:
    api, _ = read_smtpapi(with_header(field_of({"send_at": int(NOW) + 72 * 3600})), now=NOW)
    assert api.send_at == int(NOW) + 72 * 3600


def test_ten_categories_are_allowed() -> None:
    api, _ = read_smtpapi(with_header(field_of({"category": list("abcdefghij")})), now=NOW)
    assert api.categories == list("abcdefghij")


def test_the_size_limit_counts_the_unfolded_value() -> None:
    filler = "v" * (MAX_BYTES - 30)
    folded = b'{"unique_args":\r\n {"k": "' + filler.encode() + b'"}}'
    assert len(folded) > MAX_BYTES - 30 and len(folded.replace(b"\r\n", b"")) <= MAX_BYTES
    assert decode_smtpapi(folded).unique_args == {"k": filler}
