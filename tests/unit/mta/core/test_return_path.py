"""Signed VERP return paths: the MAC binds message and index, survives case folding, verifies
under every key of a rotation and under no other; the old unsigned form is told apart."""

from __future__ import annotations

import pytest

from mta.core.model import new_id
from mta.core.return_path import (
    ReturnPathKeys,
    VerpReference,
    mac,
    new_key,
    parse_verp,
    verp_address,
)

KEYS = ReturnPathKeys((new_key(),))
MSG = "19a3f0c2b1d4e5f60718293a4b5"


def test_round_trip_of_real_ids() -> None:
    for index in (0, 1, 999, 99_999):
        message_id = new_id()
        address = verp_address(message_id, index, "Bounces.Example.com", KEYS)
        assert len(address.partition("@")[0]) <= 64
        assert parse_verp(address, KEYS) == VerpReference(
            message_id=message_id, index=index, host="bounces.example.com", signature="valid"
        )


def test_the_mac_is_lower_case_base32_and_survives_case_folding() -> None:
    address = verp_address(MSG, 3, "b.example", KEYS)
    local = address.partition("@")[0]
    assert local == f"bounces+{MSG}.3.{mac(MSG, 3, KEYS.keys[0])}"
    assert local == local.lower() and len(local.rpartition(".")[2]) == 16
    ref = parse_verp(address.upper(), KEYS)
    assert ref is not None and ref.signature == "valid" and ref.message_id == MSG


def test_a_changed_index_or_message_invalidates_the_mac() -> None:
    signature = mac(MSG, 0, KEYS.keys[0])
    for forged in (
        f"bounces+{MSG}.1.{signature}@b.example",
        f"bounces+{MSG[:-1]}0.0.{signature}@b.example",
        f"bounces+{MSG}.0.{'a' * 16}@b.example",
        f"bounces+{MSG}.0.@b.example",
    ):
        ref = parse_verp(forged, KEYS)
        assert ref is not None and ref.signature == "invalid", forged


def test_rotation_the_first_key_signs_and_every_key_verifies() -> None:
    old, new = new_key(), new_key()
    before = verp_address(MSG, 2, "b.example", ReturnPathKeys((old,)))
    rotated = ReturnPathKeys((new, old))
    after = verp_address(MSG, 2, "b.example", rotated)
    assert after != before and after == verp_address(MSG, 2, "b.example", ReturnPathKeys((new,)))
    for address in (before, after):
        ref = parse_verp(address, rotated)
        assert ref is not None and ref.signature == "valid"
    dropped = parse_verp(before, ReturnPathKeys((new,)))
    assert dropped is not None and dropped.signature == "invalid"


def test_the_old_unsigned_form_is_ours_but_unsigned() -> None:
    ref = parse_verp(f"<BOUNCES+{MSG}.3@b.example.>", KEYS)
    assert ref == VerpReference(message_id=MSG, index=3, host="b.example", signature="missing")


@pytest.mark.parametrize(
    "address",
    [
        "bounces+abc.3",  # no domain: not an address of ours
        "user@example.com",
        "bounces@example.com",
        "bounces-abc.3@example.com",
        "bounces+@example.com",
        "bounces+abc@example.com",
        "bounces+.3@example.com",
        "bounces+abc.@example.com",
        "bounces+abc.x@example.com",
        "bounces+abc.-1@example.com",
        "bounces+abc.1e3@example.com",
        "bounces+abc.\u00b2@example.com",
        "bounces+abc.1234567.mac@example.com",
        "bounces+a.b.1.mac@example.com",
        "",
        "@",
    ],
)
def test_not_a_return_path(address: str) -> None:
    assert parse_verp(address, KEYS) is None


@pytest.mark.parametrize("keys", [(), ("short",)])
def test_keys_must_exist_and_be_long(keys: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="return_path_keys"):
        ReturnPathKeys(keys)
