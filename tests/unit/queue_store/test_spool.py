"""The file spool: put / scan / update / remove, quarantine of bad files, storage failure."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mta.errors import StorageUnavailable
from mta.model import Envelope, QueueEntry, RecipientState, SmtpReply
from queue_store import FileSpool

CONTENT = b"From: a@example.com\r\nSubject: Hi\r\n\r\nbody\r\n"


def _entry(
    queue_id: str, emails: tuple[str, ...] = ("x@example.net", "y@example.org")
) -> QueueEntry:
    return QueueEntry(
        envelope=Envelope(
            message_id=f"m-{queue_id}",
            queue_id=queue_id,
            account_id="acct",
            sender="a@example.com",
            sender_domain="example.com",
            return_path_host="bounces.example.com",
            created_at=1_700_000_000.5,
            categories=["c"],
            custom_args={"k": "v"},
        ),
        recipients=[RecipientState(email=e, index=i) for i, e in enumerate(emails)],
    )


@pytest.fixture
def spool(tmp_path: Path) -> FileSpool:
    return FileSpool(tmp_path / "spool")


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_file())


def test_constructor_makes_the_directories(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "a" / "b")
    assert spool.directory.is_dir()
    assert spool.quarantine.is_dir()
    assert list(spool.scan()) == []


async def test_put_then_scan_returns_the_entry(spool: FileSpool) -> None:
    entry = _entry("q1")
    await spool.put(entry, CONTENT)
    assert list(spool.scan()) == [entry]
    assert await spool.load_content("q1") == CONTENT
    assert _names(spool.directory) == ["q1.msg"]  # no temporary file left behind


async def test_put_survives_a_new_spool_on_the_same_directory(tmp_path: Path) -> None:
    entries = [_entry("q1"), _entry("q2", ("z@example.net",))]
    first = FileSpool(tmp_path / "spool")
    for entry in entries:
        await first.put(entry, CONTENT + entry.envelope.queue_id.encode())
    second = FileSpool(tmp_path / "spool")
    assert list(second.scan()) == entries
    assert await second.load_content("q2") == CONTENT + b"q2"


async def test_update_then_scan_returns_the_new_recipient_state(spool: FileSpool) -> None:
    entry = _entry("q1")
    await spool.put(entry, CONTENT)
    entry.recipients[0].status = "delivered"
    entry.recipients[0].attempts = 1
    entry.recipients[0].last_reply = SmtpReply(250, "2.0.0", "Ok")
    entry.recipients[1].attempts = 2
    entry.recipients[1].next_attempt_at = 1_700_000_360.0
    entry.recipients[1].last_reply = SmtpReply(451, "4.7.1", "Greylisted")
    await spool.update(entry)

    (scanned,) = spool.scan()
    assert scanned.recipients == entry.recipients
    assert [s.index for s in scanned.pending] == [1]
    assert scanned.envelope == entry.envelope
    assert await spool.load_content("q1") == CONTENT  # content untouched


async def test_later_update_replaces_the_earlier_one(spool: FileSpool) -> None:
    entry = _entry("q1")
    await spool.put(entry, CONTENT)
    for attempts in (1, 2, 3):
        entry.recipients[0].attempts = attempts
        await spool.update(entry)
    (scanned,) = spool.scan()
    assert scanned.recipients[0].attempts == 3
    assert _names(spool.directory) == ["q1.msg", "q1.rcpt"]


async def test_remove_deletes_message_and_state(spool: FileSpool) -> None:
    keep, gone = _entry("keep"), _entry("gone")
    await spool.put(keep, CONTENT)
    await spool.put(gone, CONTENT)
    await spool.update(gone)
    await spool.remove("gone")
    assert list(spool.scan()) == [keep]
    assert _names(spool.directory) == ["keep.msg"]


async def test_remove_of_unknown_id_is_harmless(spool: FileSpool) -> None:
    await spool.remove("never-there")
    assert list(spool.scan()) == []


async def test_load_content_of_unknown_id_fails(spool: FileSpool) -> None:
    with pytest.raises(FileNotFoundError):
        await spool.load_content("never-there")


async def _valid_bytes(tmp_path: Path) -> bytes:
    other = FileSpool(tmp_path / "scratch")
    await other.put(_entry("scratch"), CONTENT)
    return (other.directory / "scratch.msg").read_bytes()


@pytest.mark.parametrize(
    "damage",
    ["garbage", "truncated", "empty", "wrong shape"],
)
async def test_bad_message_file_is_quarantined_and_the_rest_still_returned(
    spool: FileSpool, tmp_path: Path, damage: str
) -> None:
    good_a, good_b = _entry("a-good"), _entry("c-good")
    await spool.put(good_a, CONTENT)
    await spool.put(good_b, CONTENT)
    valid = await _valid_bytes(tmp_path)
    bad = {
        "garbage": b"\x00\xffnot msgpack at all\x13\x37",
        "truncated": valid[: len(valid) // 2],
        "empty": b"",
        "wrong shape": b"\x93\x01\x02\x03",  # msgpack [1, 2, 3]
    }[damage]
    (spool.directory / "b-bad.msg").write_bytes(bad)
    (spool.directory / "b-bad.rcpt").write_bytes(b"whatever")

    assert list(spool.scan()) == [good_a, good_b]
    assert _names(spool.quarantine) == ["b-bad.msg", "b-bad.rcpt"]
    assert (spool.quarantine / "b-bad.msg").read_bytes() == bad
    assert _names(spool.directory) == ["a-good.msg", "c-good.msg"]
    # A second scan finds the same good entries and nothing new to quarantine.
    assert list(spool.scan()) == [good_a, good_b]


async def test_bad_state_file_quarantines_its_message(spool: FileSpool) -> None:
    good, broken = _entry("good"), _entry("broken")
    await spool.put(good, CONTENT)
    await spool.put(broken, CONTENT)
    (spool.directory / "broken.rcpt").write_bytes(b"\xc1")  # never valid msgpack
    assert list(spool.scan()) == [good]
    assert _names(spool.quarantine) == ["broken.msg", "broken.rcpt"]


def _vanish(directory: Path) -> None:
    shutil.rmtree(directory)


def _replace_with_file(directory: Path) -> None:
    shutil.rmtree(directory)
    directory.write_bytes(b"not a directory")


@pytest.mark.parametrize("break_directory", [_vanish, _replace_with_file])
async def test_put_when_storage_is_gone_raises_storage_unavailable(
    spool: FileSpool, break_directory: Callable[[Path], None]
) -> None:
    break_directory(spool.directory)
    with pytest.raises(StorageUnavailable) as failure:
        await spool.put(_entry("q1"), CONTENT)
    assert isinstance(failure.value.__cause__, OSError)


def test_spool_under_a_regular_file_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(OSError):
        FileSpool(blocker / "spool")
