"""Webhook benchmark: how fast the outbox posts events, and how late, beside the relay rate
in the same run. One webhook for `processed` and `delivered` points at a receiver on loopback
that answers every POST at once (bench/webhook_receiver.py, its own process); `smtp-source`
relays N messages of 5 KB through a `scaisend serve` (trusted-network relay) to `smtp-sink`,
so 2N events are posted, one a POST in ScaiSend's signed format, in arrays in SendGrid's.

    .venv/bin/python bench/webhook_bench.py [--workers 1|2] [--database sqlite|postgresql]
        [--format scaisend|sendgrid] [--mode burst|paced|drain] [--rate 200]
        [--messages 10000] [--timeout 600]
    .venv/bin/python bench/webhook_bench.py --all     # burst: both formats x 1, 2 workers x
                                                      # both databases; paced: both formats x
                                                      # both databases, 2 workers; a summary
    --source DIR runs the server from another tree (e.g. `git archive HEAD` unpacked there)

burst (default): relay N with `smtp-source -s 20` and wait until the receiver has all 2N
events. Prints the relay's end-to-end rate (first injection to the sink having all N), events
and POSTs, events/s (first to last arrival, and from the first injection), the time the outbox
still needed after the relay ended, the lag from event to POST, and the server's CPU time.

paced: the same, but the relay is offered `--rate` messages a second (each second one
`smtp-source` sends that second's share), below what the relay and the outbox can carry: the
lag while the outbox keeps up.

drain: the outbox's capacity. The receiver holds its answers (the few POSTs in flight wait;
a disabled webhook would get no outbox rows at all), N are relayed and delivered, and once the
outbox holds the 2N rows the receiver answers and the drain is timed; the events in the POSTs
held at release are left out of the rate.

Lag is shown two ways: from the database (`webhook_deliveries.last_attempt_at - created_at`
of the delivered rows) and from the receiver (arrival - the event's `timestamp`). The event's
`timestamp` is whole seconds, so the receiver's view overstates the lag by up to 1 s; so does
the database's when `created_at` is whole seconds too (the block says when).

PostgreSQL runs on a throwaway cluster the bench makes (initdb, pg_ctl on a free loopback
port, as the `postgres` user when run as root), with its default settings (fsync on); SQLite
is the server's default (WAL, synchronous=NORMAL). Everything listens on 127.0.0.1 only, every
wait is bounded, and every process the bench starts is stopped at the end, also on errors and
Ctrl-C. Needs Postfix's smtp-source and smtp-sink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import pwd
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from http_send_bench import free_port, tree_cpu_seconds, wait_ready

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SINK_COUNTER = re.compile(rb"mesg=(\d+)")
STARTUP_SECONDS = 60.0
SETTLE_SECONDS = 30.0


class BenchError(Exception):
    """A run could not be set up or measured; the next run of a matrix still goes ahead."""


@dataclass(frozen=True)
class Options:
    workers: int = 1
    database: str = "sqlite"
    format: str = "scaisend"
    mode: str = "burst"
    messages: int = 10_000
    rate: int = 200  # paced: messages a second
    timeout: float = 600.0
    source: Path = ROOT  # the tree whose `scaisend` runs

    def title(self) -> str:
        worker = "worker" if self.workers == 1 else "workers"
        mode = f"paced at {self.rate} msgs/s" if self.mode == "paced" else self.mode
        return (
            f"{mode}, {self.format} format, {self.workers} {worker}, {self.database},"
            f" {self.messages} messages"
        )


@dataclass
class Ports:
    mx: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    sink: int = field(default_factory=free_port)
    receiver: int = field(default_factory=free_port)


@dataclass
class Result:
    options: Options
    relay_rate: float | None = None  # msgs/s, first injection to the sink having all N
    events: int = 0
    unique: int = 0
    posts: int = 0
    first: float | None = None
    last: float | None = None
    start: float = 0.0  # the first injection (burst) or the release (drain)
    relay_end: float | None = None  # the sink had all N
    held_events: int = 0
    first_post_events: int = 0  # carried by the first POST counted, at `first`
    lag_db: list[float] = field(default_factory=list)
    lag_receiver: list[float] = field(default_factory=list)
    db_whole_seconds: bool = False
    outbox: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0
    host_busy: float | None = None  # the host's busy CPUs over the same window
    error: str | None = None
    server_log: str = ""

    @property
    def complete(self) -> bool:
        return self.unique >= 2 * self.options.messages

    @property
    def rate_first_last(self) -> float | None:
        """The events after the first POST over the time from it to the last (a few arrays
        would otherwise look infinitely fast)."""
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return (self.events - self.held_events - self.first_post_events) / (self.last - self.first)

    @property
    def rate_run(self) -> float | None:
        """Events/s from the first injection (burst) or the release (drain) to the last."""
        if self.last is None or self.last <= self.start:
            return None
        return (self.events - self.held_events) / (self.last - self.start)

    @property
    def drain_seconds(self) -> float | None:
        anchor = self.relay_end if self.options.mode != "drain" else self.start
        # Paced, the last event may arrive before the sink's count is seen complete: 0.
        return None if anchor is None or self.last is None else max(0.0, self.last - anchor)


# -- processes ---------------------------------------------------------------------------


class Processes:
    """The processes a run started, each in its own session, its output in `<name>.log`
    (smtp-sink's is its counter file); stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def log(self, name: str) -> Path:
        return self._logs / f"{name}.log"

    def start(self, name: str, argv: list[str], cwd: Path | None = None) -> int:
        with self.log(name).open("wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
            )
        self._started.append((name, process))
        return process.pid

    def tail(self, name: str, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, pid: int, grace: float = 30.0) -> None:
        for name, process in list(self._started):
            if process.pid == pid:
                self._stop_one(name, process, grace)
                self._started.remove((name, process))

    def stop_all(self) -> None:
        while self._started:
            name, process = self._started.pop()
            self._stop_one(name, process, 30.0)

    @staticmethod
    def _stop_one(name: str, process: subprocess.Popen[bytes], grace: float) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                print(
                    f"{name} did not stop within {grace:.0f} s of SIGTERM; killed", file=sys.stderr
                )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
        process.wait(timeout=10)


def host_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


@contextlib.contextmanager
def cpu_window(result: Result, server: int) -> Iterator[None]:
    """The server's CPU seconds, and the host's busy CPUs, over the block it wraps."""
    cpu, (busy, total) = tree_cpu_seconds(server), host_jiffies()
    yield
    result.cpu = tree_cpu_seconds(server) - cpu
    busy_after, total_after = host_jiffies()
    if total_after > total:
        share = (busy_after - busy) / (total_after - total)
        result.host_busy = (os.cpu_count() or 1) * share


def wait_port(port: int, timeout: float = STARTUP_SECONDS) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1.0):
            return
        time.sleep(0.1)
    raise BenchError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


class Postgres:
    """A throwaway cluster on a free loopback port, as tests/support/postgres.py makes one."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
        which = shutil.which("pg_ctl")
        if not (which or found):
            raise BenchError("PostgreSQL (initdb, pg_ctl) is not installed")
        self.bindir = Path(which).resolve().parent if which else found[0].parent
        self.root = Path(tempfile.mkdtemp(prefix="scaisend-webhook-bench-pg-", dir="/var/tmp"))
        self.data, self.port = self.root / "data", free_port()
        self._as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root

    def _run(self, program: str, args: str, *more: str) -> None:
        """Runs a PostgreSQL program; `args` split on spaces (the temp paths have none)."""
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        argv = [*prefix, str(self.bindir / program), *args.split(), *more]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise BenchError(f"{program} exited {done.returncode}: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self._run("initdb", f"-D {self.data} -U postgres --auth=trust -E UTF8")
        log, options = self.root / "log", f"-k {self.root} -p {self.port} -h 127.0.0.1"
        self._run("pg_ctl", f"start -w -t 60 -D {self.data} -l {log}", "-o", options)
        self._run("createdb", f"-h 127.0.0.1 -p {self.port} -U postgres scaisend")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", f"stop -m fast -t 60 -D {self.data}")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/scaisend"


# -- the server and its webhook ----------------------------------------------------------


def write_config(state: Path, ports: Ports, options: Options, database_url: str) -> Path:
    webhooks = f"allow_private_targets = true\nallowed_ports = [{ports.receiver}]\n"
    if options.mode == "drain":  # the held POSTs must outlive the wait for the outbox
        wait = int(options.timeout) + 120
        webhooks += f"timeout_seconds = {wait}\nlease_seconds = {wait + 60}\n"
    config = state / "scaisend.toml"
    config.write_text(
        f'[http]\nlisten = "127.0.0.1:{ports.http}"\n'
        f'[smtp]\nhostname = "scaisend-bench.example.com"\nsubmission_listen = ""\n'
        f'smtps_listen = ""\nmx_listen = "127.0.0.1:{ports.mx}"\n'
        f'relay_networks = ["127.0.0.0/8"]\nrelay_account = "bench"\n'
        f'[storage]\ndata_dir = "{state / "var"}"\ndatabase_url = "{database_url}"\n'
        f'[delivery]\nroutes = {{ "*" = "127.0.0.1:{ports.sink}" }}\n'
        f"[webhooks]\n{webhooks}"
        f'[server]\nworkers = {options.workers}\n[log]\nlevel = "warning"\n'
    )
    return config


def token(source: Path, config: Path) -> str:
    """A JWT for account `bench` (`scaisend token`, run from the same tree as the server)."""
    argv = [sys.executable, "-m", "mta.server.cli.main", "token", "--account", "bench"]
    done = subprocess.run(
        [*argv, "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        cwd=source,
        timeout=STARTUP_SECONDS,
    )
    return done.stdout.split()[-1]


def create_webhook(base: str, jwt: str, url: str, fmt: str) -> str:
    body = {"url": url, "enabled_events": ["processed", "delivered"], "format": fmt}
    answer = httpx.post(
        f"{base}/v3/user/webhooks",
        json=body,
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=30,
    )
    if answer.status_code != 201:
        raise BenchError(f"creating the webhook: HTTP {answer.status_code} {answer.text}")
    return str(answer.json()["id"])


# -- relay and waits ---------------------------------------------------------------------


def sink_count(counter: Path) -> int:
    """The last `mesg=N` that `smtp-sink -c` wrote."""
    with contextlib.suppress(FileNotFoundError), counter.open("rb") as file:
        file.seek(max(0, file.seek(0, os.SEEK_END) - 256))
        found = SINK_COUNTER.findall(file.read())
        return int(found[-1]) if found else 0
    return 0


def smtp_source(mx: int, messages: int, sessions: int = 20) -> list[str]:
    argv = f"smtp-source -s {sessions} -m {messages} -l 5000 -f bench@example.com"
    return [
        *argv.split(),
        *f"-t user@example.net -M bench-client.example.com 127.0.0.1:{mx}".split(),
    ]


def relay(mx: int, messages: int, timeout: float) -> None:
    done = subprocess.run(
        smtp_source(mx, messages), capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        print(f"smtp-source exited {done.returncode}: {done.stdout[-300:]}", file=sys.stderr)


def relay_paced(mx: int, messages: int, per_second: int, deadline: float) -> None:
    """N messages at `per_second`: each second one smtp-source sends that second's share."""
    started, slices, sent = time.monotonic(), [], 0
    while sent < messages and time.monotonic() < deadline:
        count = min(per_second, messages - sent)
        argv = smtp_source(mx, count, min(20, count))
        slices.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        sent += count
        time.sleep(max(0.0, started + len(slices) - time.monotonic()))
    for process in slices:
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def wait_until(check: Callable[[], bool], deadline: float, poll: float) -> float | None:
    """time.time() when check() first holds, or None at the deadline (monotonic)."""
    while time.monotonic() < deadline:
        if check():
            return time.time()
        time.sleep(poll)
    return None


def receiver_get(port: int, path: str) -> dict[str, Any]:
    answer = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
    answer.raise_for_status()
    result: dict[str, Any] = answer.json()
    return result


# -- the database's view -----------------------------------------------------------------

DELIVERED = (
    "SELECT created_at, last_attempt_at FROM webhook_deliveries"
    " WHERE webhook_id = {p} AND state = 'delivered'"
)
STATES = "SELECT state, count(*) FROM webhook_deliveries WHERE webhook_id = {p} GROUP BY state"


class Outbox:
    """Reads webhook_deliveries: SQLite read-only through sqlite3, PostgreSQL through asyncpg."""

    def __init__(self, sqlite_file: Path | None, dsn: str | None, webhook_id: str) -> None:
        self._file, self._dsn, self._id = sqlite_file, dsn, webhook_id

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self._file is not None:
            uri = f"file:{self._file}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
                return list(db.execute(sql.format(p="?"), (self._id,)))
        return asyncio.run(self._pg(sql.format(p="$1")))

    async def _pg(self, sql: str) -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(self._dsn, timeout=30)
        try:
            return [tuple(row) for row in await conn.fetch(sql, self._id)]
        finally:
            await conn.close()

    def rows(self) -> int:
        return sum(count for _, count in self.query(STATES))

    def states(self) -> dict[str, int]:
        return {str(state): int(count) for state, count in self.query(STATES)}

    def lags(self) -> tuple[list[float], bool]:
        """Seconds from each delivered event to its last attempt, and whether created_at is
        in whole seconds."""
        found = self.query(DELIVERED)
        whole = bool(found) and all(float(created).is_integer() for created, _ in found)
        return [float(last) - float(created) for created, last in found], whole


# -- one run -----------------------------------------------------------------------------


@contextlib.contextmanager
def environment(options: Options) -> Iterator[tuple[Path, Processes, Postgres | None]]:
    """A temp dir, the processes started in it, and the PostgreSQL cluster: all undone after."""
    state = Path(tempfile.mkdtemp(prefix="scaisend-webhook-bench-", dir="/var/tmp"))
    processes = Processes(state)
    postgres = None
    try:
        postgres = Postgres() if options.database == "postgresql" else None
        if postgres is not None:
            postgres.start()
        yield state, processes, postgres
    except Exception:
        if tail := processes.tail("scaisend"):
            print(f"the server's last lines:\n{tail}", file=sys.stderr)
        raise
    finally:
        processes.stop_all()
        if postgres is not None:
            with contextlib.suppress(BenchError, subprocess.SubprocessError):
                postgres.stop()
        shutil.rmtree(state, ignore_errors=True)


def start_peers(state: Path, processes: Processes, ports: Ports, hold: bool) -> Path:
    receiver = [sys.executable, str(HERE / "webhook_receiver.py"), "--port", str(ports.receiver)]
    processes.start("receiver", receiver + (["--hold"] if hold else []))
    sink = "smtp-sink -c -m 1000 -h sink.example.org" + (" -u nobody" if os.geteuid() == 0 else "")
    processes.start("smtp-sink", [*sink.split(), f"127.0.0.1:{ports.sink}", "4096"])
    wait_port(ports.receiver)
    wait_port(ports.sink)
    return processes.log("smtp-sink")  # -c: its counters


def start_scaisend(
    state: Path, processes: Processes, ports: Ports, options: Options, postgres: Postgres | None
) -> int:
    url = "" if postgres is None else postgres.dsn.replace("postgresql:", "postgresql+asyncpg:")
    config = write_config(state, ports, options, url)
    argv = [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)]
    server = processes.start("scaisend", argv, cwd=options.source)
    try:
        wait_ready(f"http://127.0.0.1:{ports.http}", STARTUP_SECONDS)
    except SystemExit as exc:  # http_send_bench's way of saying it
        raise BenchError(str(exc)) from None
    wait_port(ports.mx)
    return server


def measure(result: Result) -> None:
    """One run, filling `result` as it goes (so a failed run still shows what it got)."""
    options, ports = result.options, Ports()
    with environment(options) as (state, processes, postgres):
        counter = start_peers(state, processes, ports, hold=options.mode == "drain")
        server = start_scaisend(state, processes, ports, options, postgres)
        jwt = token(options.source, state / "scaisend.toml")
        hook = f"http://127.0.0.1:{ports.receiver}/hook"
        webhook_id = create_webhook(f"http://127.0.0.1:{ports.http}", jwt, hook, options.format)
        sqlite_file = state / "var" / "scaisend.db" if postgres is None else None
        outbox = Outbox(sqlite_file, postgres.dsn if postgres else None, webhook_id)
        if options.mode != "drain":
            run_burst(result, counter, ports, server)
        else:
            run_drain(result, counter, ports, server, outbox)
        collect_receiver(result, ports.receiver)
        settle(outbox, result.unique)
        processes.stop(server)  # before reading SQLite: no writer left
        result.outbox = outbox.states()
        result.lag_db, result.db_whole_seconds = outbox.lags()
        if not result.complete:
            result.server_log = processes.tail("scaisend")


def relay_and_wait(result: Result, counter: Path, ports: Ports, deadline: float) -> float:
    """Relays N; the relay's start (time.time()); sets the end-to-end rate."""
    messages = result.options.messages
    before = sink_count(counter)
    start = time.time()
    if result.options.mode == "paced":
        relay_paced(ports.mx, messages, result.options.rate, deadline)
    else:
        relay(ports.mx, messages, max(1.0, deadline - time.monotonic()))
    result.relay_end = wait_until(lambda: sink_count(counter) >= before + messages, deadline, 0.02)
    if result.relay_end is not None:
        result.relay_rate = messages / (result.relay_end - start)
    return start


def run_burst(result: Result, counter: Path, ports: Ports, server: int) -> None:
    deadline = time.monotonic() + result.options.timeout
    with cpu_window(result, server):
        result.start = relay_and_wait(result, counter, ports, deadline)
        wait_events(result, ports.receiver, deadline)


def run_drain(result: Result, counter: Path, ports: Ports, server: int, outbox: Outbox) -> None:
    deadline = time.monotonic() + result.options.timeout
    relay_and_wait(result, counter, ports, deadline)
    target = 2 * result.options.messages
    if wait_until(lambda: outbox.rows() >= target, deadline, 0.5) is None:
        result.error = f"the outbox did not reach {target} rows"
    with cpu_window(result, server):
        result.start = float(receiver_get(ports.receiver, "/release")["released_at"])
        wait_events(result, ports.receiver, time.monotonic() + result.options.timeout)


def wait_events(result: Result, port: int, deadline: float) -> None:
    target = 2 * result.options.messages
    if wait_until(lambda: receiver_get(port, "/stats")["unique"] >= target, deadline, 0.2) is None:
        result.error = result.error or f"not all {target} events arrived before the timeout"


def settle(outbox: Outbox, received: int) -> None:
    """Waits (bounded) until the server has recorded as delivered what the receiver got: the
    last POSTs are answered a moment before their rows are, and a stop gives claims back."""
    deadline = time.monotonic() + SETTLE_SECONDS
    wait_until(lambda: outbox.states().get("delivered", 0) >= received, deadline, 0.2)


def collect_receiver(result: Result, port: int) -> None:
    found = receiver_get(port, "/events")
    posts, events = found["posts"], found["events"]
    result.posts, result.events = len(posts), len(events)
    result.unique = len({event_id for _, _, event_id in events})
    result.held_events = sum(count for _, count, held in posts if held)
    # Drain: the rates count from the first POST answered after the release.
    answered = [(arrival, count) for arrival, count, held in posts if not held]
    if answered:
        (result.first, result.first_post_events), result.last = answered[0], posts[-1][0]
    seen: set[str] = set()
    for arrival, stamp, event_id in events:  # the first arrival of each event
        if event_id not in seen:
            seen.add(event_id)
            result.lag_receiver.append(arrival - stamp)


# -- output ------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def rate(value: float | None, unit: str = "events/s") -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def lag_line(values: list[float]) -> str:
    return f"p50 {seconds(percentile(values, 0.5))}  p99 {seconds(percentile(values, 0.99))}"


def print_block(result: Result) -> None:
    options, target = result.options, 2 * result.options.messages
    status = "complete" if result.complete else "INCOMPLETE"
    status += f" ({result.error})" if result.error else ""
    anchor = "first injection" if options.mode != "drain" else "release"
    needed = None if result.relay_rate is None else 2 * result.relay_rate
    print(f"== webhook bench: {options.title()} -- {status}")
    if options.source != ROOT:
        print(f"server        from {options.source}")
    offered = f"{options.rate} a second" if options.mode == "paced" else "-s 20"
    print(f"relay         {rate(result.relay_rate, 'msgs/s')} end to end (smtp-source {offered})")
    print(
        f"events        {result.unique} of {target} posted, {result.events - result.unique}"
        f" duplicates, in {result.posts} POSTs"
        f" ({result.events / max(result.posts, 1):.1f} events a POST)"
    )
    if options.mode == "drain":
        print(
            f"held          {result.held_events} events in POSTs held until the release,"
            " left out of the rate from the release"
        )
    print(
        f"events/s      {rate(result.rate_first_last)} first to last arrival,"
        f" {rate(result.rate_run)} from the {anchor}; the relay needs {rate(needed)}"
    )
    print(
        f"drain         {seconds(result.drain_seconds)} from the"
        f" {'sink having all messages' if options.mode != 'drain' else 'release'}"
        " to the last event"
    )
    whole = " (created_at is whole seconds: overstates by up to 1 s)"
    if options.mode == "drain":
        print("lag           (drain: the events waited for the release; this is not the lag)")
    print(
        f"lag database  {lag_line(result.lag_db)}  last_attempt_at - created_at over"
        f" {len(result.lag_db)} delivered rows{whole if result.db_whole_seconds else ''}"
    )
    print(
        f"lag receiver  {lag_line(result.lag_receiver)}  arrival - event timestamp"
        " (whole seconds: overstates by up to 1 s)"
    )
    print(
        f"server CPU    {result.cpu:.1f} s ({1000 * result.cpu / max(result.events, 1):.2f} ms"
        f" an event, from the {anchor} to the last event); the host was busy"
        f" {'-' if result.host_busy is None else f'{result.host_busy:.2f}'} of"
        f" {os.cpu_count()} CPUs meanwhile"
    )
    print(f"outbox        {', '.join(f'{k} {v}' for k, v in sorted(result.outbox.items()))}")
    if result.server_log:
        print(f"server log    (last lines)\n{result.server_log}")
    print(flush=True)


COLUMNS = [
    "db",
    "workers",
    "format",
    "mode",
    "msgs",
    "relay msgs/s",
    "events",
    "POSTs",
    "events/s first-last",
    "events/s run",
    "lag db p50/p99 s",
    "lag rx p50/p99 s",
    "drain s",
    "CPU s",
    "host busy CPUs",
]


def summary_row(result: Result) -> list[str]:
    options = result.options

    def number(value: float | None, digits: int = 1) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    def lags(values: list[float]) -> str:
        return f"{number(percentile(values, 0.5))}/{number(percentile(values, 0.99))}"

    return [
        options.database,
        str(options.workers),
        options.format,
        options.mode,
        str(options.messages),
        number(result.relay_rate),
        str(result.unique),
        str(result.posts),
        number(result.rate_first_last),
        number(result.rate_run),
        lags(result.lag_db),
        lags(result.lag_receiver),
        number(result.drain_seconds),
        number(result.cpu),
        number(result.host_busy, 2),
    ]


def print_summary(results: list[Result]) -> None:
    rows = [list(COLUMNS), *(summary_row(result) for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for index, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(f"| {' | '.join(cells)} |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


# -- command line ------------------------------------------------------------------------


def parse() -> tuple[list[Options], bool]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, choices=[1, 2], default=1, help="[server] workers")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--format", choices=["scaisend", "sendgrid"], default="scaisend")
    parser.add_argument("--mode", choices=["burst", "paced", "drain"], default="burst")
    parser.add_argument("--rate", type=int, default=200, help="paced: messages a second")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for each wait")
    parser.add_argument("--all", action="store_true", help="the matrix, burst and paced")
    parser.add_argument(
        "--source",
        type=Path,
        default=ROOT,
        help="the ScaiSend tree whose server runs (default: this one), e.g. a `git archive`",
    )
    args = parser.parse_args()
    source = args.source.resolve()
    os.environ["PYTHONPATH"] = str(source)  # the server, its workers and `scaisend token`
    if not args.all:
        one = Options(
            args.workers,
            args.database,
            args.format,
            args.mode,
            args.messages,
            args.rate,
            args.timeout,
            source,
        )
        return [one], False
    rate, timeout = args.rate, args.timeout
    matrix = [
        Options(workers, database, fmt, "burst", args.messages, rate, timeout, source)
        for database in ("sqlite", "postgresql")
        for workers in (1, 2)
        for fmt in ("scaisend", "sendgrid")
    ]
    matrix += [
        Options(2, database, fmt, "paced", args.messages, rate, timeout, source)
        for database in ("sqlite", "postgresql")
        for fmt in ("scaisend", "sendgrid")
    ]
    return matrix, True


def interrupted(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    runs, summary = parse()
    for tool in ("smtp-source", "smtp-sink"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed (Postfix: apt-get install postfix)")
    signal.signal(signal.SIGTERM, interrupted)  # clean up and stop, as on Ctrl-C
    results = [Result(options) for options in runs]
    for result in results:
        try:
            measure(result)
        except (BenchError, subprocess.SubprocessError, httpx.HTTPError, OSError) as exc:
            result.error = f"{exc.__class__.__name__}: {exc}"
        print_block(result)
    if summary:
        print_summary(results)


if __name__ == "__main__":
    main()
