"""The install's return-path keys: configured, else a keys file made 0600 on first start
(concurrent workers agree on one key), rotated by putting a new line first; the deliverer
signs with the first."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config.settings import InboundSettings, Settings, StorageSettings
from mta.core.return_path import ReturnPathKeys, new_key, parse_verp
from mta.delivery.deliverer import Deliverer
from mta.server.return_path_keys import KEYS_FILE, return_path_keys
from queue_store.entries import Envelope, QueueEntry, RecipientState


def settings(data_dir: Path, keys: list[str] | None = None) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=str(data_dir)),
        inbound=InboundSettings(return_path_keys=keys or []),
    )


def test_the_keys_file_is_made_once_and_private(tmp_path: Path) -> None:
    first = return_path_keys(settings(tmp_path / "var"))
    path = tmp_path / "var" / KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.keys) == 1 and return_path_keys(settings(tmp_path / "var")) == first
    assert [p.name for p in path.parent.iterdir()] == [KEYS_FILE]  # no temporary left


def test_workers_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        found = set(pool.map(lambda _: return_path_keys(settings(tmp_path)), range(16)))
    assert len(found) == 1


def test_rotation_a_new_first_line_signs_and_the_old_still_verifies(tmp_path: Path) -> None:
    old = return_path_keys(settings(tmp_path)).keys[0]
    new = new_key()
    (tmp_path / KEYS_FILE).write_text(f"# rotated\n{new}\n\n{old}\n")
    assert return_path_keys(settings(tmp_path)) == ReturnPathKeys((new, old))


def test_configured_keys_win_and_short_keys_are_refused(tmp_path: Path) -> None:
    key = new_key()
    assert return_path_keys(settings(tmp_path, [key])) == ReturnPathKeys((key,))
    assert not (tmp_path / KEYS_FILE).exists()
    (tmp_path / KEYS_FILE).write_text("short\n")
    with pytest.raises(ValueError, match="return_path_keys"):
        return_path_keys(settings(tmp_path))
    with pytest.raises(ValueError, match="return_path_keys"):
        InboundSettings(return_path_keys=["short"])


def test_the_deliverer_signs_each_recipient_s_return_path() -> None:
    keys = ReturnPathKeys((new_key(),))
    deliverer = Deliverer(None, None, None, return_path_keys=keys)  # type: ignore[arg-type]
    envelope = Envelope(
        message_id="018f0000000000aaaabbbbccccd",
        queue_id="q",
        account_id="a",
        sender="s@mail.example.com",
        sender_domain="mail.example.com",
        return_path_host="bounces.mail.example.com",
    )
    states = [RecipientState(email="a@x.test", index=0), RecipientState(email="b@x.test", index=4)]
    sent = deliverer.transactions(QueueEntry(envelope=envelope, recipients=states), states)
    refs = [parse_verp(t.mail_from, keys) for t in sent]
    assert [(r.index, r.signature) for r in refs if r] == [(0, "valid"), (4, "valid")]
    assert [t.recipient for t in sent] == ["a@x.test", "b@x.test"]


@pytest.mark.parametrize("address", ["fbl", "@fbl.example.com", "fbl@localhost", "a b@x.example"])
def test_fbl_addresses_must_be_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="fbl_addresses"):
        InboundSettings(fbl_addresses=[address])
    assert InboundSettings(fbl_addresses=["FBL@Fbl.Example.com."]).fbl_addresses == [
        "fbl@fbl.example.com"
    ]
