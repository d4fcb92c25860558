"""Hostile input benchmark: the event loop's worst stall while each hostile input is
processed. Starts a `scaisend serve`, then for each input sends it (HTTP API, or SMTP to the
MX for the bounce) while a probe in its own process GETs /healthz every 5 ms; prints, per
input, the answer, how long it took (median of --repeat runs), the median /healthz round
trip, and the slowest /healthz answer of each run (the loop's worst stall plus a loopback
round trip; the `baseline` row shows what a shared machine adds alone): the median of the
runs and the worst.

    .venv/bin/python bench/hostile_input_bench.py [--only NAME ...] [--timeout 120]

Inputs (each built to make some step superlinear before it was bounded; docs/benchmarks.md):
templates nested 3 deep over 100 items, over the step budget, writing too much text; click
tracking over html ending in 100,000 unclosed `<a `; a subscription footer with an unclosed
`<%` and 100,000 blanks; 1,500 substitution tags over 200 KB of text; the longest allowed
`query=` nested as deep as allowed; a 190 KB bounce line of dashes sent to the MX.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosmtplib
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_send_bench import free_port, token, wait_ready

DOMAIN = "bench.example.com"
MX_DOMAIN = "bounces.bench.example"
POLL_SECONDS = 0.005
Send = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[str]]
Bind = Callable[[httpx.AsyncClient, str], Awaitable[Send]]  # prepares (not measured)


def start_server(state: Path, port: int, mx_port: int) -> subprocess.Popen[bytes]:
    config = state / "scaisend.toml"
    config.write_text(
        f'[http]\nlisten = "127.0.0.1:{port}"\nrate_limit_per_second = 100000.0\n'
        f"rate_limit_burst = 100000\n"
        f'[smtp]\nsubmission_listen = ""\nsmtps_listen = ""\nmx_listen = "127.0.0.1:{mx_port}"\n'
        f'inbound_domains = ["{MX_DOMAIN}"]\n'
        f'[storage]\ndata_dir = "{state / "var"}"\n[log]\nlevel = "warning"\n'
    )
    return subprocess.Popen(
        [sys.executable, "-m", "mta.server.cli.main", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def mail(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "user@example.net"}]}],
        "from": {"email": f"hello@{DOMAIN}"},
        "subject": "bench",
        "content": [{"type": "text/plain", "value": "hello"}],
        "mail_settings": {"sandbox_mode": {"enable": True}},
    }
    body.update(extra)
    return body


async def post(client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]) -> str:
    response = await client.post("/v3/mail/send", json=body, headers=auth)
    return f"{response.status_code} {limit_named(response)}".strip()


def limit_named(response: httpx.Response) -> str:
    if response.status_code < 400:
        return ""
    message = str(response.json()["errors"][0]["message"])
    for name in ("max_steps", "max_output_bytes", "max_seconds"):
        if name in message:
            return name
    return message[:24]


async def template(client: httpx.AsyncClient, jwt: str, html: str) -> str:
    auth = {"Authorization": f"Bearer {jwt}"}
    made = await client.post(
        "/v3/templates", json={"name": "t", "generation": "dynamic"}, headers=auth
    )
    tid = str(made.json()["id"])
    version = {"name": "v", "subject": "Hi", "html_content": html, "plain_content": "x"}
    await client.post(f"/v3/templates/{tid}/versions", json=version, headers=auth)
    return tid


NESTED = "{{#each a}}{{#each ../a}}{{#each ../../a}}<p>{{this}}</p>{{/each}}{{/each}}{{/each}}"
TEXT_LOOP = "{{#each a}}{{#each ../a}}" + "x" * 2000 + "{{/each}}{{/each}}"


def template_send(html: str, data: dict[str, Any]) -> Bind:
    async def bind(client: httpx.AsyncClient, jwt: str) -> Send:
        tid = await template(client, jwt, html)
        personalization = {"to": [{"email": "u@example.net"}], "dynamic_template_data": data}
        body = mail(personalizations=[personalization], template_id=tid)

        async def send(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
            return await post(client, auth, body)

        return send

    return bind


def body_send(body: dict[str, Any]) -> Bind:
    async def bind(_client: httpx.AsyncClient, _jwt: str) -> Send:
        async def send(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
            return await post(client, auth, body)

        return send

    return bind


def query_send() -> Bind:
    condition = 'subject LIKE "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b"'
    query = "(" * 8 + " OR ".join([condition] * 40) + ")" * 8

    async def bind(_client: httpx.AsyncClient, _jwt: str) -> Send:
        async def send(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
            response = await client.get("/v3/messages", params={"query": query}, headers=auth)
            return f"{response.status_code} {limit_named(response)}".strip()

        return send

    return bind


def bounce_send(mx_port: int) -> Bind:
    head = (
        b"From: MAILER-DAEMON@mx.example.net\r\nTo: b@" + MX_DOMAIN.encode() + b"\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    # soft line breaks: one decoded line of 190,000 dashes, in lines SMTP accepts
    message = head + (b"-" * 76 + b"=\r\n") * 2_500 + b"\r\n"

    async def bind(_client: httpx.AsyncClient, _jwt: str) -> Send:
        async def send(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
            _errors, reply = await aiosmtplib.send(
                message,
                sender="postmaster@mx.example.net",
                recipients=[f"b@{MX_DOMAIN}"],
                hostname="127.0.0.1",
                port=mx_port,
                start_tls=False,
                timeout=600,
            )
            return reply.split()[0] if reply else "?"

        return send

    return bind


def inputs(mx_port: int) -> dict[str, Bind]:
    hundred = {"a": list(range(100))}
    html = '<a href="https://example.com/">x</a>' + "<a " * 100_000
    footer = {"enable": True, "text": "<%" + " " * 100_000, "html": "<p>bye</p>"}
    tags = {f"-{i}-": "" for i in range(1500)}
    subs = [{"to": [{"email": "u@example.net"}], "substitutions": tags}]
    return {
        "baseline (a plain send)": body_send(mail()),
        "template: 3 nested each x 100": template_send(NESTED, hundred),
        "template: 2 nested each, 2 KB text": template_send(TEXT_LOOP, {"a": list(range(3000))}),
        "template: 200 KB data x 3 loops": template_send(NESTED, {"a": ["y" * 2000] * 100}),
        "click tracking: 100k unclosed <a": body_send(
            mail(
                content=[{"type": "text/html", "value": html}],
                tracking_settings={"click_tracking": {"enable": True}},
            )
        ),
        "footer: unclosed <% + 100k blanks": body_send(
            mail(tracking_settings={"subscription_tracking": footer})
        ),
        "substitutions: 1500 tags x 200 KB": body_send(
            mail(
                personalizations=subs,
                content=[{"type": "text/plain", "value": "x" * 200_000}],
            )
        ),
        "query=: 40 LIKE, nested 8": query_send(),
        "MX bounce: 190 KB line of dashes": bounce_send(mx_port),
    }


PROBE = """
import gc, http.client, json, signal, sys, time
gc.disable()  # the probe's own pauses are not the server's
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
connection = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=600)
latencies = []
while not stop:
    started = time.perf_counter()
    connection.request("GET", "/healthz")
    connection.getresponse().read()
    latencies.append(time.perf_counter() - started)
    if len(latencies) == 1:
        print("ready", flush=True)
    time.sleep(float(sys.argv[3]))
print(json.dumps(latencies[1:]), flush=True)
"""


async def measure(
    base: str, send: Send, key: str, timeout: float
) -> tuple[str, float, list[float]]:
    """Send once while a probe in its own process (so that this process's work and pauses
    stay out of the figures) GETs /healthz every POLL_SECONDS over one kept-alive connection."""
    host, port = base.removeprefix("http://").split(":")
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PROBE, host, port, str(POLL_SECONDS), stdout=asyncio.subprocess.PIPE
    )
    assert probe.stdout is not None
    await probe.stdout.readline()  # "ready": connected and answered once
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=base, timeout=timeout) as client:
        started = time.perf_counter()
        try:
            answer = await asyncio.wait_for(
                send(client, {"Authorization": f"Bearer {key}"}), timeout
            )
        except (TimeoutError, httpx.TimeoutException):
            answer = f"no answer in {timeout:.0f} s"
        took = time.perf_counter() - started
    await asyncio.sleep(0.1)
    probe.terminate()
    latencies: list[float] = json.loads(await probe.stdout.readline())
    await probe.wait()
    return answer, took, latencies


async def prepare(base: str, jwt: str) -> str:
    async with httpx.AsyncClient(
        base_url=base, timeout=60, headers={"Authorization": f"Bearer {jwt}"}
    ) as client:
        await client.post("/api/admin/domains", json={"domain": DOMAIN})
        body = {"name": "bench", "environment": "test", "scopes": ["mail.send", "messages.read"]}
        key = await client.post("/v3/api_keys", json=body)
        return str(key.json()["api_key"])


async def run(
    base: str, jwt: str, cases: dict[str, Bind], timeout: float, warmups: int, repeat: int
) -> None:
    key = await prepare(base, jwt)
    print(
        f"{'input':36} {'answer':28} {'took':>7} {'polls':>5} {'p50':>6}"
        f" {'worst (median of runs)':>22} {'worst of all':>12}"
    )
    for name, bind in cases.items():
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            send = await bind(client, jwt)
        for _ in range(warmups):  # first uses import and compile lazily: not the input's cost
            await measure(base, send, key, timeout)
        runs = [await measure(base, send, key, timeout) for _ in range(repeat)]
        answer = runs[-1][0]
        took = statistics.median(run[1] for run in runs)
        latencies = [latency for run in runs for latency in run[2]] or [float("nan")]
        worsts = [max(run[2]) * 1000 for run in runs if run[2]] or [float("nan")]
        print(
            f"{name:36} {answer:28} {took:6.2f}s {len(latencies) // repeat:5}"
            f" {statistics.median(latencies) * 1000:4.1f}ms {statistics.median(worsts):20.1f}ms"
            f" {max(worsts):10.1f}ms",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="inputs whose name starts with one of these")
    parser.add_argument("--timeout", type=float, default=120.0, help="per input, in seconds")
    parser.add_argument("--warmups", type=int, default=1, help="unmeasured runs of each input")
    parser.add_argument("--repeat", type=int, default=5, help="measured runs of each input")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="scaisend-hostile-bench-", dir="/var/tmp"))
    port, mx_port = free_port(), free_port()
    cases = inputs(mx_port)
    if args.only:
        cases = {k: v for k, v in cases.items() if k.startswith(tuple(args.only))}
    server = start_server(state, port, mx_port)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base)
        asyncio.run(run(base, token(state), cases, args.timeout, args.warmups, args.repeat))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
