"""Where each worker of `[server] workers` keeps its own files (spool, held list, the Unix
socket of its HTTP app) and which workers a data_dir needs: pure functions on paths."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

RUN_DIR = "run"
SPOOL = re.compile(r"spool-([1-9][0-9]*)")
HELD_FILE = "queue-held.json"
MAX_RESTART_DELAY = 30.0
STEADY_SECONDS = 60.0  # a worker up this long starts its restart delays from the first again


class WorkerLayout(msgspec.Struct, frozen=True, kw_only=True):
    """One process's own paths. `index` None: the single process of `workers = 1`."""

    index: int | None
    spool: Path
    held_file: Path
    socket: Path | None  # its HTTP app on a Unix socket, for the fan-out of the others
    peers: tuple[tuple[int, Path], ...] = ()  # (index, socket) of every worker, its own too

    @property
    def reuse_port(self) -> bool:
        return self.index is not None

    @property
    def primary(self) -> bool:
        """Runs what one process per host is enough for (retention)."""
        return self.index in (None, 0)


def spool_dir(data_dir: Path, index: int | None) -> Path:
    """data_dir/spool for the single process and worker 0, data_dir/spool-k for worker k."""
    return data_dir / "spool" if not index else data_dir / f"spool-{index}"


def host_spools(data_dir: Path) -> list[Path]:
    """Every spool directory of this data_dir: the single process's or worker 0's, then
    each data_dir/spool-k."""
    return [spool_dir(data_dir, None), *(spool_dir(data_dir, k) for k in spool_indexes(data_dir))]


def held_file(data_dir: Path, index: int | None) -> Path:
    """The held-message list: beside the spool for worker 0 (as ever), inside spool-k for k,
    so that retiring a worker is deleting one directory."""
    return data_dir / HELD_FILE if not index else spool_dir(data_dir, index) / HELD_FILE


def socket_path(data_dir: Path, index: int) -> Path:
    return data_dir / RUN_DIR / f"worker-{index}.sock"


def spool_indexes(data_dir: Path) -> list[int]:
    """k of every data_dir/spool-k directory there is."""
    if not data_dir.is_dir():
        return []
    found = (SPOOL.fullmatch(p.name) for p in data_dir.iterdir() if p.is_dir())
    return sorted(int(match.group(1)) for match in found if match)


def retired(data_dir: Path, workers: int) -> list[int]:
    """Workers beyond `workers` whose spool is still there (workers were lowered): they run
    until an operator deletes their spool, so that no mail is stranded."""
    return [k for k in spool_indexes(data_dir) if k >= workers]


def worker_indexes(data_dir: Path, workers: int) -> list[int]:
    """Every worker to run: 0 … workers-1 and the retired ones."""
    return sorted({*range(workers), *retired(data_dir, workers)})


def supervised(data_dir: Path, workers: int) -> bool:
    """Whether `scaisend serve` is a supervisor: more than one worker to run."""
    return len(worker_indexes(data_dir, workers)) > 1


def layout(data_dir: Path, workers: int, index: int | None) -> WorkerLayout:
    if index is None:
        return WorkerLayout(
            index=None, spool=spool_dir(data_dir, None), held_file=held_file(data_dir, None),
            socket=None,
        )  # fmt: skip
    peers = tuple((k, socket_path(data_dir, k)) for k in worker_indexes(data_dir, workers))
    return WorkerLayout(
        index=index,
        spool=spool_dir(data_dir, index),
        held_file=held_file(data_dir, index),
        socket=socket_path(data_dir, index),
        peers=peers,
    )


def restart_delay(failures: int) -> float:
    """Seconds before restarting a worker that died `failures` times in a row: 1, 2, 4 …
    at most MAX_RESTART_DELAY."""
    return min(MAX_RESTART_DELAY, 2.0 ** max(0, failures - 1))
