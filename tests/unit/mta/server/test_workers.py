"""The workers' layout on disk and which workers a data_dir needs (mta/server/workers.py), the
supervisor's pure parts (mta/server/supervisor.py), and `[server] workers` validation."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import msgspec
import pytest

from config.settings import ServerSettings
from mta.server.supervisor import parse_states, sender_pid, worker_command, worker_environ
from mta.server.workers import (
    MAX_RESTART_DELAY,
    held_file,
    layout,
    restart_delay,
    retired,
    socket_path,
    spool_dir,
    supervised,
    worker_indexes,
)


@pytest.mark.parametrize(
    ("index", "spool", "held"),
    [
        (None, "spool", "queue-held.json"),  # one process: the layout as it always was
        (0, "spool", "queue-held.json"),  # worker 0 keeps it
        (1, "spool-1", "spool-1/queue-held.json"),
        (12, "spool-12", "spool-12/queue-held.json"),
    ],
)
def test_each_worker_has_its_own_spool(index: int | None, spool: str, held: str) -> None:
    data = Path("/var/lib/scaisend")
    assert spool_dir(data, index) == data / spool
    assert held_file(data, index) == data / held


def test_which_workers_run(tmp_path: Path) -> None:
    assert worker_indexes(tmp_path, 1) == [0]
    assert not supervised(tmp_path, 1)
    assert worker_indexes(tmp_path, 3) == [0, 1, 2]
    assert supervised(tmp_path, 2)
    for name in ("spool", "spool-1", "spool-4", "spool-x", "spool-01", "spool-0"):
        (tmp_path / name).mkdir()
    (tmp_path / "spool-7").write_text("a file, not a spool")
    assert retired(tmp_path, 2) == [4]  # spool-01 / spool-0 / spool-x are not ours
    assert worker_indexes(tmp_path, 2) == [0, 1, 4]
    assert retired(tmp_path, 5) == []
    assert worker_indexes(tmp_path, 1) == [0, 1, 4]
    assert supervised(tmp_path, 1)  # lowered to one: the others' mail must still go out
    assert worker_indexes(tmp_path / "missing", 2) == [0, 1]


def test_layout_of_a_worker_and_of_the_single_process(tmp_path: Path) -> None:
    single = layout(tmp_path, 1, None)
    assert single.socket is None and single.peers == () and not single.reuse_port
    assert single.primary
    second = layout(tmp_path, 2, 1)
    assert second.spool == tmp_path / "spool-1" and second.reuse_port and not second.primary
    assert second.socket == socket_path(tmp_path, 1) == tmp_path / "run" / "worker-1.sock"
    assert second.peers == ((0, socket_path(tmp_path, 0)), (1, socket_path(tmp_path, 1)))
    assert layout(tmp_path, 2, 0).primary


def test_restart_delays_grow_to_a_bound() -> None:
    delays = [restart_delay(n) for n in range(1, 10)]
    assert delays[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert delays[5:] == [MAX_RESTART_DELAY] * 4
    assert sorted(delays) == delays


@pytest.mark.parametrize("workers", [0, -1, 65])
def test_workers_out_of_range_are_refused(workers: int) -> None:
    with pytest.raises(msgspec.ValidationError, match="workers"):
        msgspec.convert({"workers": workers}, ServerSettings)
    assert msgspec.convert({"workers": 64}, ServerSettings).workers == 64


def test_notify_datagrams_are_parsed() -> None:
    assert parse_states(b"READY=1\nSTATUS=running\n") == {"READY": "1", "STATUS": "running"}
    assert parse_states(b"WATCHDOG=1") == {"WATCHDOG": "1"}
    assert parse_states(b"garbage\n\xff=1") == {"\ufffd": "1"}


def test_worker_environment_and_command() -> None:
    systemd = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_PID": "1", "A": "b"}
    systemd["WATCHDOG_USEC"] = "3"
    env = worker_environ(systemd, "@inbox", 30_000_000)
    assert env == {"NOTIFY_SOCKET": "@inbox", "WATCHDOG_USEC": "30000000", "A": "b"}
    assert "WATCHDOG_USEC" not in worker_environ(systemd, "@inbox", None)
    command = worker_command(2, "/etc/s.toml")
    assert command[-5:] == ["serve", "--worker", "2", "--config", "/etc/s.toml"]
    assert worker_command(0, None)[-3:] == ["serve", "--worker", "0"]


def test_the_sender_of_a_datagram_is_known_by_its_pid() -> None:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with receiver, sender:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        receiver.bind("\0scaisend-test-" + str(id(receiver)))
        sender.sendto(b"READY=1", receiver.getsockname())
        payload, ancillary, _, _ = receiver.recvmsg(4096, socket.CMSG_SPACE(12))
    assert payload == b"READY=1" and sender_pid(ancillary) == os.getpid()
    assert sender_pid([]) is None
