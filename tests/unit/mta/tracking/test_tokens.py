"""Tracking tokens: what goes in comes out; a changed byte, another key, another purpose or
any garbage parses to None; the mailto local part stays within 64 octets and survives case
folding."""

from __future__ import annotations

import base64

import msgspec
import pytest

from mta.core.model import new_id
from mta.tracking.tokens import (
    MAILTO_PREFIX,
    Claim,
    TrackingKey,
    make_token,
    parse_token,
    parse_unsubscribe_address,
    unsubscribe_address,
)

KEY = TrackingKey("server secret")
MID = "18c2f3a4b5c9f0e1d2c3b4a5f60"  # new_id()'s shape: 27 hex digits

CLAIMS = [
    Claim(kind="open", message_id=MID, recipient_index=0),
    Claim(kind="open", message_id=MID + "a", recipient_index=7),  # even length hex
    Claim(kind="unsubscribe", message_id=MID, recipient_index=3, asm_group_id=42),
    Claim(kind="unsubscribe", message_id="Not-Hex_id.1", recipient_index=0),
    Claim(kind="unsubscribe", message_id="0" + MID, recipient_index=0),  # leading zero kept
    Claim(
        kind="click",
        message_id=MID,
        recipient_index=12,
        url="https://example.com/a?b=1&c=%20#frag",
        url_index=4,
    ),
    Claim(
        kind="click",
        message_id=MID,
        recipient_index=1,
        asm_group_id=9,
        url="http://例え.jp/パス",
        url_index=0,
        url_type="text",
    ),
    Claim(kind="click", message_id=MID, recipient_index=0, url="https://x.io/" + "a" * 2000),
]


@pytest.mark.parametrize("claim", CLAIMS)
def test_a_token_round_trips(claim: Claim) -> None:
    token = make_token(KEY, claim)
    assert token.isascii() and all(c.isalnum() or c in "-_" for c in token)
    assert parse_token(KEY, token) == claim
    assert parse_token(KEY, token, claim.kind) == claim


@pytest.mark.parametrize("claim", CLAIMS[:3])
def test_open_tokens_are_short(claim: Claim) -> None:
    assert len(make_token(KEY, claim)) < 60


def test_every_changed_character_is_refused() -> None:
    token = make_token(KEY, CLAIMS[5])
    for position, char in enumerate(token):
        for other in ("A", "-", "z"):
            if other != char:
                changed = token[:position] + other + token[position + 1 :]
                assert parse_token(KEY, changed) is None, (position, other)


def test_truncated_and_extended_tokens_are_refused() -> None:
    token = make_token(KEY, CLAIMS[0])
    for cut in range(len(token)):
        assert parse_token(KEY, token[:cut]) is None
    assert parse_token(KEY, token + "A") is None
    assert parse_token(KEY, token + "==") is None


def test_a_changed_url_keeps_no_signature() -> None:
    """The MAC covers the URL: swapping the target under the same MAC is refused."""
    good = make_token(KEY, CLAIMS[5])
    blob = base64.urlsafe_b64decode(good + "=" * (-len(good) % 4))
    mac = blob[:16]
    evil = msgspec.structs.replace(CLAIMS[5], url="https://evil.example/")
    evil_blob = base64.urlsafe_b64decode(make_token(KEY, evil) + "===")
    forged = base64.urlsafe_b64encode(mac + evil_blob[16:]).rstrip(b"=").decode()
    assert parse_token(KEY, forged) is None


def test_another_key_or_kind_is_refused() -> None:
    token = make_token(KEY, CLAIMS[2])
    assert parse_token(TrackingKey("another secret"), token) is None
    assert parse_token(KEY, token, "click") is None
    assert parse_token(KEY, token, "open") is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a",
        "!!!!",
        "====",
        "AAAA",
        "A" * 40,
        "é" * 30,
        "x" * 9000,
        base64.urlsafe_b64encode(b"\0" * 16 + b"\x93\x00").decode(),
        base64.urlsafe_b64encode(b"\0" * 15).decode(),
        "../../etc/passwd",
        "a b",
    ],
)
def test_garbage_is_refused(token: str) -> None:
    assert parse_token(KEY, token) is None


@pytest.mark.parametrize(
    ("index", "group"),
    [(0, None), (0, 1), (999, 12345), (99_999, 2**31), (2**31, 2**32)],
)
def test_mailto_address_round_trips_within_64_octets(index: int, group: int | None) -> None:
    claim = Claim(kind="unsubscribe", message_id=new_id(), recipient_index=index)
    claim = msgspec.structs.replace(claim, asm_group_id=group)
    address = unsubscribe_address(KEY, claim, "bounces.mail.example.com")
    local, _, host = address.partition("@")
    assert local.startswith(MAILTO_PREFIX) and host == "bounces.mail.example.com"
    assert len(local) <= 64 or index >= 2**31
    assert local == local.lower()
    assert parse_unsubscribe_address(KEY, address) == claim
    assert parse_unsubscribe_address(KEY, address.upper()) == claim  # a folding MTA


def test_mailto_address_refuses_tampering_and_other_tokens() -> None:
    claim = Claim(kind="unsubscribe", message_id=MID, recipient_index=2, asm_group_id=5)
    address = unsubscribe_address(KEY, claim, "rp.example.com")
    local, _, host = address.partition("@")
    for position in range(len(MAILTO_PREFIX), len(local)):
        other = "a" if local[position] != "a" else "b"
        changed = local[:position] + other + local[position + 1 :]
        assert parse_unsubscribe_address(KEY, f"{changed}@{host}") is None, position
    assert parse_unsubscribe_address(TrackingKey("other"), address) is None
    assert parse_unsubscribe_address(KEY, "bounces+" + address[len(MAILTO_PREFIX) :]) is None
    assert parse_unsubscribe_address(KEY, MAILTO_PREFIX + make_token(KEY, claim) + "@x") is None
    assert parse_token(KEY, local[len(MAILTO_PREFIX) :]) is None
    for junk in ("", "@", "unsub+@x", "unsub+!!@x", "unsub+" + "a" * 300 + "@x"):
        assert parse_unsubscribe_address(KEY, junk) is None
