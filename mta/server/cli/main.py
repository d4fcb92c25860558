"""The `scaisend` command: serve, token, check-config, queue, events, user, inbound, db."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from config import ConfigError, Settings, load_settings
from config.discovery import CONFIG_HELP, ConfigSource, find_config
from mta.db.sealed import SealError
from mta.server.cli.banner import banner_lines
from mta.server.cli.db import add_db_commands, run_db_command
from mta.server.cli.events import add_events_commands, run_events_command
from mta.server.cli.inbound import add_inbound_commands, run_inbound_command
from mta.server.cli.queue import add_queue_commands, run_queue_command
from mta.server.cli.server_data import issue_token, missing_files, no_data_message
from mta.server.cli.users import add_user_commands, run_user_command
from mta.server.listen_check import unusable_listen
from mta.server.logs import configure_logging
from mta.server.private_files import keep_private
from mta.server.runtime import settle_heap, stop_leftover_tasks
from mta.server.supervisor import run_supervisor
from mta.server.workers import supervised
from mta.services.identity import Role
from queue_store.lock import SpoolLocked

LEFTOVER_GRACE_SECONDS = 5.0  # for tasks still running after the Application stopped


def _settings(explicit: str | None) -> tuple[Settings, ConfigSource]:
    """The settings from the file found (--config, SCAISEND_CONFIG, the system file, else
    the embedded default) and which that was; a configuration error ends the command."""
    source = find_config(explicit, os.environ)
    try:
        return load_settings(source.path), source
    except ConfigError as exc:
        via = "" if source.origin == "--config" else f" (configuration: {source.describe()})"
        print(f"scaisend: configuration error: {exc}{via}", file=sys.stderr)
        raise SystemExit(2) from None


def _server_data(settings: Settings, source: ConfigSource) -> None:
    """Stop a command that works with an existing server's data when there is none here."""
    missing = missing_files(settings)
    if missing:
        print(no_data_message(settings, source, missing), file=sys.stderr)
        raise SystemExit(1)


async def _serve(settings: Settings, config_path: str | None, worker: int | None) -> None:
    # Here, not at the top: the server (Litestar, the routes, the services) takes 1.5 s to
    # import, which `token`, `user`, `queue` and `db` would pay on every run for nothing.
    from mta.server.app import Application

    app = Application(settings, config_path=config_path, worker=worker)
    try:
        await app.start()
    except (SpoolLocked, SealError) as exc:  # a second `serve` on the data_dir; wrong keys
        print(f"scaisend: {exc}", file=sys.stderr, flush=True)
        await app.core.engine.dispose()
        raise SystemExit(1) from None
    settle_heap()
    if not worker:  # the banner once, from worker 0 when there are workers
        _banner(settings, config_path)
    await _wait_for_stop()
    await app.stop()
    stuck = await stop_leftover_tasks(LEFTOVER_GRACE_SECONDS)
    if stuck:  # the work is done and saved; do not let them keep the process alive
        logging.getLogger(__name__).warning(
            "event=tasks_did_not_stop tasks=%r hint=exiting_anyway", stuck
        )
        logging.shutdown()
        os._exit(0)


def _banner(settings: Settings, config_path: str | None) -> None:
    for line in banner_lines(settings, config_path, sys.argv[0]):
        print(line, flush=True)


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


def positive_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {value}")
    return value


def _add_token(commands: Any) -> None:
    token = commands.add_parser(
        "token",
        help="print a JWT of the server's for an account (created if new) or the operator",
        description="Print a JWT signed with the server's secret, for an account of its "
        "database (created if new) or for the operator. Needs the data of a server that has "
        "started with the same configuration; creates none.",
    )
    token.add_argument("--config", help=CONFIG_HELP)
    whose = token.add_mutually_exclusive_group(required=True)
    whose.add_argument(
        "--account",
        metavar="NAME",
        help="the account's name (created in the database if new)",
    )
    whose.add_argument(
        "--operator",
        action="store_true",
        help="the instance's operator: the accounts API and every account's queue",
    )
    token.add_argument(
        "--role",
        choices=["admin", "user"],
        default="admin",
        help="admin may also steer the account's queue (/api/admin/queue), user may not "
        "(default admin)",
    )
    token.add_argument(
        "--ttl",
        metavar="SECONDS",
        type=positive_seconds,
        default=86_400,
        help="seconds until the token expires, at least 1 (default 86400)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scaisend", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the server"), ("check-config", "validate the config")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", help=CONFIG_HELP)
        if (
            name == "serve"
        ):  # set by the supervisor of `[server] workers` (mta/server/supervisor.py)
            sub.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    _add_token(commands)
    add_queue_commands(commands)
    add_events_commands(commands)
    add_user_commands(commands, CONFIG_HELP)
    add_inbound_commands(commands)
    add_db_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "inbound":  # works on files alone: no configuration needed
        raise SystemExit(run_inbound_command(args))
    settings, source = _settings(args.config)
    if args.command == "check-config":
        print(f"configuration ok: {source.describe()}")
        return
    keep_private()  # what the other commands write under data_dir is the user's alone
    if args.command != "serve":  # stdout is the command's answer
        configure_logging("warning", settings.log.format, sys.stderr)
        raise SystemExit(_command(args, settings, source))
    if args.worker is None and (line := unusable_listen(settings)):
        print(line, file=sys.stderr, flush=True)  # before any listener or worker starts
        raise SystemExit(2)
    configure_logging(settings.log.level, settings.log.format, worker=args.worker)
    data_dir = Path(settings.storage.data_dir)
    if args.worker is None and supervised(data_dir, settings.server.workers):
        raise SystemExit(run_supervisor(settings, source.path))
    try:
        import uvloop

    except ImportError:
        asyncio.run(_serve(settings, source.path, args.worker))
    else:
        uvloop.run(_serve(settings, source.path, args.worker))


def _command(args: argparse.Namespace, settings: Settings, source: ConfigSource) -> int:
    """db, user, queue, events and token: the exit status."""
    if args.command == "db":
        return run_db_command(args, settings, source)
    _server_data(settings, source)
    if args.command == "user":
        return asyncio.run(run_user_command(args, settings))
    if args.command == "queue":
        token = asyncio.run(issue_token(settings, None, "operator", 300))
        return run_queue_command(args, settings, token)
    if args.command == "events":
        return run_events_command(args, settings)
    role: Role = "admin" if args.role == "admin" else "user"
    account = None if args.operator else args.account
    print(asyncio.run(issue_token(settings, account, role, args.ttl)))
    return 0


if __name__ == "__main__":
    main()
