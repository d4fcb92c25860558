"""`scaisend queue …`: postqueue / postsuper for ScaiSend, against the running server's
`/api/admin/queue` with an operator token made from the server's own secret. With workers,
that endpoint asks every worker (control/fanout.py), so the command sees the whole queue."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

from config import Settings, parse_hostport
from config.discovery import CONFIG_HELP

STATES = {  # as /api/admin/queue names them (mta/scheduler/queue_admin.py)
    "active": "being delivered",
    "scheduled": "waiting for its send_at, never tried",
    "deferred": "waiting to be retried after a failed try",
    "held": "held by an operator, a paused batch or a disabled account",
}


def add_queue_commands(commands: Any) -> None:
    queue = commands.add_parser("queue", help="inspect and steer the mail queue")
    queue.add_argument("--config", help=CONFIG_HELP)
    actions = queue.add_subparsers(dest="action", required=True)
    listing = _action(actions, "list", "queued messages, earliest due first")
    listing.add_argument("--domain", help="only messages with a pending recipient at DOMAIN")
    listing.add_argument(
        "--state",
        choices=list(STATES),
        help="only messages in this state: " + "; ".join(f"{k}: {v}" for k, v in STATES.items()),
    )
    listing.add_argument(
        "--limit", type=int, default=100, help="at most this many messages (default 100)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    for name, text in (
        ("show", "one message"),
        ("hold", "stop delivering it"),
        ("release", "deliver it again"),
        ("delete", "remove it"),
    ):
        action = _action(actions, name, text)
        action.add_argument("queue_id", help="the message's queue id (from `queue list`)")
    retry = _action(actions, "retry", "try now")
    target = retry.add_mutually_exclusive_group(required=True)
    target.add_argument("queue_id", nargs="?", help="the message's queue id (from `queue list`)")
    target.add_argument(
        "--all", action="store_true", help="every deferred message (scheduled ones keep their time)"
    )


def _action(actions: Any, name: str, text: str) -> argparse.ArgumentParser:
    """An action that also takes --config after it (`scaisend queue list --config F`)."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=text)
    parser.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    return parser


def api_base(settings: Settings) -> str:
    host, port = parse_hostport(settings.http.listen)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    """(method, path, query) for the action."""
    base = "/api/admin/queue"
    if args.action == "list":
        query = {k: v for k in ("domain", "state", "limit") if (v := getattr(args, k))}
        return "GET", base, query
    if args.action == "retry":
        return "POST", f"{base}/retry" if args.all else f"{base}/{args.queue_id}/retry", {}
    if args.action == "show":
        return "GET", f"{base}/{args.queue_id}", {}
    if args.action == "delete":
        return "DELETE", f"{base}/{args.queue_id}", {}
    return "POST", f"{base}/{args.queue_id}/{args.action}", {}


def run_queue_command(args: argparse.Namespace, settings: Settings, token: str) -> int:
    method, path, query = _request(args)
    try:
        response = httpx.request(
            method,
            api_base(settings) + path,
            params=query,
            timeout=60,
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.TransportError as exc:
        print(
            f"scaisend: the server at {settings.http.listen} is not reachable: {exc}",
            file=sys.stderr,
        )
        return 1
    if missing := response.headers.get("x-scaisend-workers-unreachable"):
        print(
            f"scaisend: workers {missing} did not answer; their mail is not shown", file=sys.stderr
        )
    if response.status_code >= 400:
        errors = response.json().get("errors", [{}])
        print(f"scaisend: {errors[0].get('message', response.text)}", file=sys.stderr)
        return 1
    if response.status_code == 204:
        print(f"deleted {args.queue_id}")
    elif args.action == "list" and not args.json:
        print_table(response.json()["messages"])
    else:
        print(json.dumps(response.json(), indent=2))
    return 0


def message_line(message: dict[str, Any], now: float) -> str:
    """Queue id, state and sender; when it is due if not yet (a scheduled send or a retry)
    and its batch, marked when a pause of the batch holds it."""
    line = f"{message['queue_id']}  {message['state']:<9}  {message['sender']}"
    due = message.get("due_at")
    if due and due > now:
        line += "  due=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due))
    if message.get("batch_id"):
        line += f"  batch={message['batch_id']}"
        line += " (paused)" if message.get("held_by_batch") else ""
    return line


def print_table(messages: list[dict[str, Any]]) -> None:
    """mailq-style: one line per message, then its pending recipients with their last reply."""
    now = time.time()
    for message in messages:
        print(message_line(message, now))
        for rcpt in message["recipients"]:
            if rcpt["status"] == "pending":
                reply = f"  ({rcpt['last_reply']})" if rcpt["last_reply"] else ""
                print(f"    {rcpt['email']}  attempts={rcpt['attempts']}{reply}")
    print(f"-- {len(messages)} message(s)")
