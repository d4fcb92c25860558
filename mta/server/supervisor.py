"""`scaisend serve` with `[server] workers` above 1: starts one `serve --worker k` process per
worker (worker 0 first, so migrations and the generated certificate happen once), relays
their sd_notify states to systemd, forwards signals, and restarts a worker that dies."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

import msgspec

from config.loader import ConfigError, load_settings
from config.settings import Settings
from mta.server.notify import Notifier
from mta.server.workers import STEADY_SECONDS, restart_delay, retired, worker_indexes

log = logging.getLogger(__name__)
START_TIMEOUT_SECONDS = 600.0  # a worker's start (spool recovery included) before we give up
STOP_MARGIN_SECONDS = 15.0  # beyond the workers' own shutdown grace, before SIGKILL
CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
PR_SET_PDEATHSIG = 1  # prctl(2)


def parse_states(payload: bytes) -> dict[str, str]:
    """An sd_notify datagram ("KEY=value" lines) as a dict."""
    states = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            states[key] = value
    return states


def worker_environ(
    environ: Mapping[str, str], inbox: str, watchdog_usec: int | None
) -> dict[str, str]:
    """A worker's environment: its NOTIFY_SOCKET is the supervisor's inbox; the watchdog, if
    systemd asked for one, is passed on for the worker's own pid."""
    env = {k: v for k, v in environ.items() if k not in ("WATCHDOG_PID", "WATCHDOG_USEC")}
    env["NOTIFY_SOCKET"] = inbox
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return env


def worker_command(index: int, config_path: str | None) -> list[str]:
    config = ["--config", config_path] if config_path else []
    return [sys.executable, "-m", "mta.server.cli.main", "serve", "--worker", str(index), *config]


class Worker:
    """One worker's process and what it last told us."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: asyncio.subprocess.Process | None = None
        self.ready = False
        self.failures = 0
        self.started_at = 0.0
        self.last_ping = 0.0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def signal(self, signum: int) -> None:
        if self.process is not None and self.alive:
            with contextlib.suppress(ProcessLookupError):  # it exited just now
                self.process.send_signal(signum)


class Supervisor:
    def __init__(self, settings: Settings, config_path: str | None) -> None:
        self.config_path = config_path
        self.grace = settings.server.shutdown_grace_seconds  # a SIGHUP may change it
        data_dir = Path(settings.storage.data_dir)
        self.retired = retired(data_dir, settings.server.workers)
        self.workers = {k: Worker(k) for k in worker_indexes(data_dir, settings.server.workers)}
        self.upstream = Notifier.from_environ()  # systemd's socket, if any
        self.inbox_name = f"@scaisend-supervisor-{os.getpid()}-{secrets.token_hex(4)}"
        self._inbox: socket.socket | None = None
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running = False
        self._stop_requested = False  # by a signal, not by a failed start
        self._reloading: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        """Start every worker, serve until SIGTERM or SIGINT, stop them: the exit code."""
        loop = asyncio.get_running_loop()
        self._open_inbox(loop)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._request_stop)
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        try:
            for index in self.retired:
                log.warning(
                    "event=worker_retired worker=%d spool=spool-%d hint=once_its_queue_is_empty"
                    "_stop_the_server_and_delete_the_directory",
                    index, index,
                )  # fmt: skip
            if not await self._start_all():
                stopped = await self._stop()  # asked to stop while starting: its exit code
                return stopped if self._stop_requested else 1
            self._running = True
            log.info("event=workers_ready workers=%d", len(self.workers))
            self.upstream.notify("READY=1", f"STATUS=running {len(self.workers)} workers")
            self._spawn_task(self._watchdog(), "watchdog")
            await self._stopping.wait()
            return await self._stop()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            self._close_inbox(loop)

    async def _start_all(self) -> bool:
        """Worker 0 alone until it is ready, then the others together; False if one fails."""
        first, *others = sorted(self.workers)
        await self._spawn(first)
        if not await self._await_ready([first]):
            return False
        for index in others:
            await self._spawn(index)
        return await self._await_ready(others)

    async def _await_ready(self, indexes: list[int]) -> bool:
        waiting = [self.workers[k] for k in indexes]
        ready = await self._wait_for(
            lambda: (
                all(w.ready for w in waiting)
                or any(not w.alive for w in waiting)
                or self._stopping.is_set()
            ),
            START_TIMEOUT_SECONDS,
        )
        failed = [w.index for w in waiting if not w.ready]
        if self._stopping.is_set():
            return False
        if not ready or failed:
            log.error("event=worker_start_failed workers=%s", ",".join(map(str, failed)))
            return False
        return True

    async def _wait_for(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until `done()` (checked after every state message and exit, and each
        second) or the timeout; whether `done()` holds."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
            except TimeoutError:
                continue
        return done()

    async def _spawn(self, index: int) -> None:
        worker = self.workers[index]
        usec = os.environ.get("WATCHDOG_USEC", "") if self.upstream.watchdog else ""
        env = worker_environ(os.environ, self.inbox_name, int(usec) if usec.isdigit() else None)
        command = worker_command(index, self.config_path)
        worker.process = process = await asyncio.create_subprocess_exec(
            *command, env=env, preexec_fn=_die_with_parent(os.getpid())
        )
        worker.ready, worker.started_at = False, time.monotonic()
        log.info("event=worker_started worker=%d pid=%d", index, process.pid)
        if self._stopping.is_set():  # a stop came while it was being spawned
            process.send_signal(signal.SIGTERM)
        self._spawn_task(self._watch(worker, process), f"worker-{index}")

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, worker: Worker, process: asyncio.subprocess.Process) -> None:
        """Wait for the worker to exit; once all ran, restart it after a growing delay."""
        code = await process.wait()
        worker.ready = False
        self._reloading.discard(worker.index)
        self._changed.set()
        if self._stopping.is_set() or not self._running:
            return
        up = time.monotonic() - worker.started_at
        worker.failures = 1 if up >= STEADY_SECONDS else worker.failures + 1
        delay = restart_delay(worker.failures)
        log.error(
            "event=worker_exited worker=%d pid=%d code=%s restart_in=%.0fs",
            worker.index, process.pid, code, delay,
        )  # fmt: skip
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
            return
        except TimeoutError:
            await self._spawn(worker.index)

    async def _stop(self) -> int:
        """SIGTERM to every worker; after their grace (and a margin) SIGKILL; 0 when every
        worker exited 0."""
        self._stopping.set()
        self.upstream.stopping()
        log.info("event=stopping workers=%d", len(self.workers))
        for worker in self.workers.values():
            worker.signal(signal.SIGTERM)
        grace = self.grace + STOP_MARGIN_SECONDS

        def alive() -> bool:
            return any(w.alive for w in self.workers.values())

        await self._wait_for(lambda: not alive(), grace)
        for worker in self.workers.values():
            if worker.alive:
                log.error("event=worker_killed worker=%d after=%.0fs", worker.index, grace)
                worker.signal(signal.SIGKILL)
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        codes = {w.index: w.process.returncode for w in self.workers.values() if w.process}
        log.info("event=stopped codes=%s", ",".join(f"{k}:{c}" for k, c in codes.items()))
        return 0 if all(code == 0 for code in codes.values()) else 1

    def _request_stop(self) -> None:
        self._stop_requested = True
        self._stopping.set()

    def _reload(self) -> None:
        """SIGHUP: to every worker; systemd hears READY=1 again once each has reloaded. The
        supervisor takes the new shutdown grace (the workers log what else changed)."""
        with contextlib.suppress(ConfigError, msgspec.ValidationError):
            grace = load_settings(self.config_path).server.shutdown_grace_seconds
            self.grace = grace
        live = [w for w in self.workers.values() if w.alive]
        self._reloading = {w.index for w in live if w.ready}
        if self._reloading:
            self.upstream.reloading()
        for worker in live:
            worker.signal(signal.SIGHUP)
        log.info("event=reload_forwarded workers=%d", len(live))

    # -- the inbox: the workers' sd_notify datagrams -------------------------------------

    def _open_inbox(self, loop: asyncio.AbstractEventLoop) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        sock.bind("\0" + self.inbox_name[1:])
        sock.setblocking(False)
        self._inbox = sock
        loop.add_reader(sock.fileno(), self._receive)

    def _close_inbox(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._inbox is not None:
            loop.remove_reader(self._inbox.fileno())
            self._inbox.close()
            self._inbox = None

    def _receive(self) -> None:
        assert self._inbox is not None
        for _ in range(64):  # bounded: the reader is called again while more are waiting
            try:
                payload, ancillary, _, _ = self._inbox.recvmsg(4096, socket.CMSG_SPACE(12))
            except (BlockingIOError, InterruptedError):
                return
            pid = sender_pid(ancillary)
            worker = next(
                (w for w in self.workers.values() if w.process and w.process.pid == pid), None
            )
            if worker is not None:
                self._apply(worker, parse_states(payload))

    def _apply(self, worker: Worker, states: dict[str, str]) -> None:
        now = time.monotonic()
        if states.get("READY") == "1":
            worker.ready, worker.last_ping = True, now
            if worker.index in self._reloading:
                self._reloading.discard(worker.index)
                if not self._reloading:
                    self.upstream.ready()
        if states.get("STOPPING") == "1":
            worker.ready = False
        if states.get("WATCHDOG") == "1":
            worker.last_ping = now
        self._changed.set()

    async def _watchdog(self) -> None:
        """Ping systemd while every ready worker pings us (within WATCHDOG_USEC); a stuck
        worker's loop thus gets the whole service restarted, as a stuck single process."""
        interval = self.upstream.watchdog
        if interval is None:
            return
        while not self._stopping.is_set():
            now = time.monotonic()
            late = [
                w.index
                for w in self.workers.values()
                if w.ready and now - w.last_ping > 2 * interval
            ]
            if late:
                log.warning("event=watchdog_withheld late_workers=%s", ",".join(map(str, late)))
            else:
                self.upstream.notify("WATCHDOG=1")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)


def sender_pid(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            return int(CREDENTIALS.unpack(data[: CREDENTIALS.size])[0])
    return None


def _die_with_parent(parent: int) -> Callable[[], None]:
    """In the child before exec: SIGTERM when the supervisor dies (SIGKILLed, say), so no
    worker lives on holding its spool and the ports."""

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork, not after

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # it died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def run_supervisor(settings: Settings, config_path: str | None) -> int:
    return asyncio.run(Supervisor(settings, config_path).run())
