"""The dashboard's pages at a million messages: prepare a SQLite database (bulk inserts in
chunks straight into the tables, indexes built after; cached under var/bench/ by schema
head and data version, so reruns skip it), start `scaisend serve` on it (adding only its
two users and their sessions), sign in, and time every page N times after a warm-up: the
server's time (`Server-Timing`) and the client's on loopback, median and p95, against the
100 ms ceiling.

    .venv/bin/python bench/ui_page_bench.py [--messages 1000000] [--runs 20] [--warmup 3]
        [--cache var/bench] [--profile FILE.svg]

A path answering 404 is skipped.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from http_send_bench import free_port  # bench/ is on sys.path when run as a script
from ui_bench_data import ACME, DAY, prepared

from control.ui.navigation import PAGES

ROOT = Path(__file__).resolve().parents[1]
CEILING_MS = 100.0
PASSWORD = "bench password, long enough"
MEMBER, OPERATOR = "ada@acme.example", "op@scaisend.example"
PAGE_BUDGET_SECONDS = 120.0  # per page: stop its runs after this, whatever --runs says


# -- the server ----------------------------------------------------------------------------


def command(config: Path, *args: str, stdin: str = "", may_exist: bool = False) -> None:
    main = [sys.executable, "-m", "mta.server.cli.main"]
    done = subprocess.run([*main, *args, "--config", str(config)], input=stdin, text=True,
                          capture_output=True, timeout=120)  # fmt: skip
    if done.returncode != 0 and not (may_exist and "exists" in done.stderr):
        raise SystemExit(f"{' '.join(args)}: {done.stderr.strip()}")


def start_server(state: Path, database: Path, port: int) -> subprocess.Popen[bytes]:
    config = state / "scaisend.toml"
    config.write_text(
        f'[http]\nlisten = "127.0.0.1:{port}"\n[smtp]\nsubmission_listen = ""\n'
        f'smtps_listen = ""\nmx_listen = ""\n[storage]\ndata_dir = "{state / "var"}"\n'
        f'database_url = "sqlite+aiosqlite:///{database}"\n'
        "message_retention_days = 3650\nevent_retention_days = 3650\n"
        '[log]\nlevel = "warning"\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=(state / "server.log").open("wb"),
    )


def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float = 180.0) -> float:
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        if server.poll() is not None:
            raise SystemExit("the server exited while starting")
        try:
            if httpx.get(f"{base}/readyz", timeout=1.0).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server was not ready within {timeout:.0f} s")


def add_users(state: Path) -> None:
    """The member (acme's admin) and the operator who sign in, as `scaisend user add` makes
    them (it needs the running server's data); kept in the cached database for the next run."""
    config = state / "scaisend.toml"
    for whose in (["--account", "acme", "--email", MEMBER, "--role", "admin"],
                  ["--operator", "--email", OPERATOR]):  # fmt: skip
        command(config, "user", "add", *whose, stdin=PASSWORD + "\n", may_exist=True)


def signed_in(base: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    form = client.get("/ui/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    fields = {"csrf_token": token.group(1), "email": email, "password": PASSWORD}
    if client.post("/ui/sign-in", data=fields).status_code != 303:
        raise SystemExit(f"could not sign in as {email}")
    return client


# -- the measurement -----------------------------------------------------------------------


def paths(database: Path) -> list[tuple[str, str]]:
    """(who, path): every page of the menu, and the Activity searches and message pages."""
    db = sqlite3.connect(database)
    newest, bounced = (
        db.execute(
            "SELECT id FROM messages WHERE account_id = ? AND status LIKE ? "
            "ORDER BY created_at DESC LIMIT 1",
            (ACME, status),
        ).fetchone()[0]
        for status in ("%", "bounced")
    )
    email = db.execute(
        "SELECT email FROM message_recipients WHERE message_id = ?", (bounced,)
    ).fetchone()[0]
    db.close()
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 10 * DAY))
    found = [("operator" if p.operator else "member", f"/ui/{p.slug}") for p in PAGES]
    return [
        *found,
        ("member", "/ui/activity?page=40"),
        ("member", f"/ui/activity?to_email={email}"),
        ("member", "/ui/activity?status=bounced"),
        ("member", f"/ui/activity?after={day}&before={day}"),
        ("member", f"/ui/activity?status=bounced&after={day}&before={day}"),
        ("member", f"/ui/activity/{newest}"),
        ("member", f"/ui/activity/{bounced}"),
        ("operator", "/ui/accounts/acme"),
        ("operator", "/ui/operators"),
    ]


SERVER_TIMING = re.compile(r"app;dur=([\d.]+)")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(client: httpx.Client, path: str, runs: int, warmup: int) -> dict[str, Any] | None:
    first = client.get(path)
    if first.status_code == 404:
        return None
    note = ""
    server, wall = [], []
    deadline = time.monotonic() + PAGE_BUDGET_SECONDS
    for n in range(warmup + runs):
        if time.monotonic() > deadline:
            note = (note + " budget").strip()
            break
        started = time.perf_counter()
        answer = client.get(path)
        took = (time.perf_counter() - started) * 1000
        timing = SERVER_TIMING.search(answer.headers.get("server-timing", ""))
        if n >= warmup and timing is not None:
            server.append(float(timing.group(1)))
            wall.append(took)
    status = first.status_code
    return {"status": status, "note": note, "server": server, "wall": wall}


def table(results: list[tuple[str, dict[str, Any]]]) -> None:
    ceiling = f"server p95 / {CEILING_MS:.0f} ms"
    print(f"| page | status | server p50 ms | server p95 ms | client p50 ms | {ceiling} |")
    print("|---|---|---|---|---|---|")
    for path, found in results:
        server, wall = found["server"], found["wall"]
        if not server:
            print(f"| `{path}` | {found['status']} | - | - | - | {found['note']} |")
            continue
        ratio = p95(server) / CEILING_MS
        note = f" ({found['note']})" if found["note"] else ""
        print(
            f"| `{path}`{note} | {found['status']} | {statistics.median(server):.1f} | "
            f"{p95(server):.1f} | {statistics.median(wall):.1f} | {ratio:.2f} |"
        )


def profiled(pid: int, output: Path | None) -> subprocess.Popen[bytes] | None:
    """`py-spy record` on the server while the pages are timed (py-spy from PATH or beside
    this Python: `pip install py-spy`)."""
    if output is None:
        return None
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    record = [spy, "record", "--pid", str(pid), "--output", str(output), "--rate", "200"]
    return subprocess.Popen(record)


def run(args: argparse.Namespace) -> None:
    database = prepared(args.cache, args.messages)
    with tempfile.TemporaryDirectory(dir=args.cache) as folder:
        state = Path(folder)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(state, database, port)
        try:
            print(f"server ready in {wait_ready(base, server):.1f} s (pid {server.pid})")
            add_users(state)
            clients = {"member": signed_in(base, MEMBER), "operator": signed_in(base, OPERATOR)}
            spy = profiled(server.pid, args.profile)
            results = []
            for who, path in paths(database):
                found = measure(clients[who], path, args.runs, args.warmup)
                if found is None:
                    print(f"skipped {path}: 404", file=sys.stderr)
                    continue
                results.append((path, found))
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    print(f"{args.messages:,} messages; {args.runs} runs a page after {args.warmup} warm-up")
    table(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy flame graph (SVG)")
    args = parser.parse_args()
    print("command:", " ".join(["bench/ui_page_bench.py", *sys.argv[1:]]))
    run(args)


if __name__ == "__main__":
    main()
