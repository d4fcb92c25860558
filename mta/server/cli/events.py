"""`scaisend events tail`: follow an account's events live, like `tail -f` for mail, by polling
the running server's `GET /v3/user/events` with a token of the account's made from the
server's own secret. The account must exist; nothing is created."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from config import Settings
from config.discovery import CONFIG_HELP
from mta.core.errors import NotFound
from mta.core.events import EVENT_TYPES
from mta.core.model import id_floor
from mta.server.cli.queue import api_base
from mta.server.cli.server_data import account_tokens, existing_account_id
from mta.server.cli.tail_window import Event, Page, Tail, TailWindow

POLL_SECONDS = 0.5
PAGE_SIZE = 1000  # the feed's largest page
TOKEN_SECONDS = 60  # each poll carries a fresh token: a long tail never holds an expired one
DETAILS = ("reason", "response", "url")  # what the line shows of an event, the first it has


class TailStop(Exception):
    """The tail cannot go on; the message says why, in one line."""


def add_events_commands(commands: Any) -> None:
    events = commands.add_parser("events", help="follow an account's events")
    events.add_argument("--config", help=CONFIG_HELP)
    actions = events.add_subparsers(dest="action", required=True)
    tail = actions.add_parser(
        "tail",
        help="print an account's events as they happen",
        description="Print the account's events as the running server records them, oldest "
        "first, one a line: local time, event, recipient, message id, and the reason, "
        "response or URL. Runs until Ctrl-C, --count or --for.",
    )
    tail.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    tail.add_argument("--account", required=True, help="the account's name (must exist)")
    tail.add_argument(
        "--event",
        action="append",
        choices=sorted(EVENT_TYPES),
        metavar="TYPE",
        help=f"only this event type (repeatable): {', '.join(sorted(EVENT_TYPES))}",
    )
    tail.add_argument("--email", help="only events of this recipient (any case)")
    tail.add_argument(
        "--since",
        type=_whole(0),
        default=0,
        metavar="SECONDS",
        help="start this many seconds back (default 0: only new events)",
    )
    tail.add_argument("--count", type=_whole(1), metavar="N", help="exit after N events")
    tail.add_argument(
        "--for", dest="duration", type=_whole(1), metavar="SECONDS", help="exit after this long"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object a line, as webhooks")


def _whole(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, not {value}")
        return value

    return parse


def event_line(event: Event) -> str:
    """Local time, event, recipient, message id, and the first detail the event has."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.get("timestamp", 0)))
    line = f"{when}  {event.get('event', '?'):<17}  {event.get('email', '')}"
    line += f"  {event.get('message_id', '')}"
    detail = next((str(event[k]) for k in DETAILS if event.get(k)), "")
    return f"{line}  {detail}" if detail else line


def feed_fetcher(
    settings: Settings, args: argparse.Namespace, token: Callable[[], str], client: httpx.Client
) -> Callable[[str], Page]:
    """The feed of the server at `settings`' HTTP address, narrowed as the arguments say."""
    url = api_base(settings) + "/v3/user/events"
    query: dict[str, Any] = {"limit": PAGE_SIZE}
    if args.event:
        query["event"] = sorted(set(args.event))
    if args.email:
        query["email"] = args.email

    def fetch(after: str) -> Page:
        try:
            response = client.get(
                url,
                params={**query, "after": after},
                headers={"Authorization": f"Bearer {token()}"},
            )
        except httpx.TransportError as exc:
            raise TailStop(
                f"the server at {settings.http.listen} is not reachable: {exc}"
            ) from None
        if response.status_code >= 400:
            raise TailStop(_refusal(response))
        body = response.json()
        return Page(events=body["events"], next=body["next"])

    return fetch


def _refusal(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"the server answered {response.status_code}"


def follow(
    tail: Tail,
    args: argparse.Namespace,
    out: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Poll and print until --count events were printed, --for seconds passed or `stop` is
    set (Ctrl-C), checked between polls."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + args.duration if args.duration else None
    left = args.count
    while not stop.is_set():
        for event in tail.poll()[:left]:
            out(json.dumps(event, ensure_ascii=False) if args.json else event_line(event))
            if left is not None:
                left -= 1
        if left == 0:
            return
        if deadline is not None and time.monotonic() >= deadline:
            return
        pause = POLL_SECONDS if deadline is None else min(POLL_SECONDS, deadline - time.monotonic())
        stop.wait(max(0.0, pause))


def _print(line: str) -> None:
    print(line, flush=True)


def run_events_command(args: argparse.Namespace, settings: Settings) -> int:
    """Follow the account's feed: 0 at --count, --for or Ctrl-C; 1 when the account does not
    exist or the server cannot be asked."""
    try:
        account_id = asyncio.run(existing_account_id(settings, args.account))
    except NotFound:
        print(
            f"scaisend: no account named {args.account} in the server's database "
            "(events tail creates none)",
            file=sys.stderr,
        )
        return 1
    token = account_tokens(settings, args.account, account_id, TOKEN_SECONDS)
    window = TailWindow(id_floor(time.time() - args.since))
    # Ctrl-C ends the loop between polls instead of raising wherever the process is: once, on
    # a loaded host, a tail interrupted mid-request did not exit within 45 s.
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        with httpx.Client(timeout=30) as client:
            tail = Tail(feed_fetcher(settings, args, token, client), window, PAGE_SIZE)
            follow(tail, args, _print, stop)
    except TailStop as exc:
        print(f"scaisend: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `… | head`: the reader has all it wanted; nothing more to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0
