"""The `scaisend` command: serve, token, check-config, queue, inbound, db."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from config import ConfigError, Settings, load_settings
from mta.server.app import Application
from mta.server.cli.db import add_db_commands, run_db_command
from mta.server.cli.inbound import add_inbound_commands, run_inbound_command
from mta.server.cli.queue import add_queue_commands, run_queue_command
from mta.server.logs import configure_logging
from mta.server.private_files import keep_private
from mta.server.supervisor import run_supervisor
from mta.server.workers import supervised
from queue_store.lock import SpoolLocked

OPERATOR_ACCOUNT = "operator"  # the account `scaisend queue` speaks as


def _settings(path: str | None) -> Settings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"scaisend: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(settings: Settings, config_path: str | None, worker: int | None) -> None:
    app = Application(settings, config_path=config_path, worker=worker)
    try:
        await app.start()
    except SpoolLocked as exc:  # a second `serve` on the same data_dir
        print(f"scaisend: {exc}", file=sys.stderr, flush=True)
        await app.core.engine.dispose()
        raise SystemExit(1) from None
    if not worker:  # the banner once, from worker 0 when there are workers
        _banner(settings, config_path)
    await _wait_for_stop()
    await app.stop()


def _banner(settings: Settings, config_path: str | None) -> None:
    print(
        f"scaisend: HTTP API on http://{settings.http.listen}, submission "
        f"{settings.smtp.submission_listen} (STARTTLS), {settings.smtp.smtps_listen} (TLS), "
        f"inbound MX {settings.smtp.mx_listen}",
        flush=True,
    )
    config = f" --config {config_path}" if config_path else ""
    print(
        f"scaisend: get an admin token with: {sys.argv[0]} token --account <name>{config}",
        flush=True,
    )


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _token(settings: Settings, account: str, role: str, ttl: int) -> str:
    app = Application(settings)
    from mta.db.engine import create_schema

    await create_schema(app.core.engine)
    row = await app.services.accounts.get_or_create(account)
    await app.core.engine.dispose()
    return app.services.tokens.issue(
        subject=f"cli:{account}",
        account_id=row.id,
        role="admin" if role == "admin" else "user",
        ttl_seconds=ttl,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scaisend", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run the server"), ("check-config", "validate the config")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--config", help="TOML file (default: built-in defaults)")
        if (
            name == "serve"
        ):  # set by the supervisor of `[server] workers` (mta/server/supervisor.py)
            sub.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    token = commands.add_parser("token", help="print a JWT for an account (created if new)")
    token.add_argument("--config")
    token.add_argument("--account", required=True)
    token.add_argument("--role", choices=["admin", "user"], default="admin")
    token.add_argument("--ttl", type=int, default=86_400, help="seconds (default 86400)")
    add_queue_commands(commands)
    add_inbound_commands(commands)
    add_db_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "inbound":  # works on files alone: no configuration needed
        raise SystemExit(run_inbound_command(args))
    settings = _settings(args.config)
    if args.command == "check-config":
        print("configuration ok")
        return
    keep_private()  # what the other commands write under data_dir is the user's alone
    if args.command != "serve":  # stdout is the command's answer
        configure_logging("warning", settings.log.format, sys.stderr)
    else:
        configure_logging(settings.log.level, settings.log.format, worker=args.worker)
    if args.command == "db":
        raise SystemExit(run_db_command(args, settings))
    if args.command == "queue":
        token = asyncio.run(_token(settings, OPERATOR_ACCOUNT, "admin", 300))
        raise SystemExit(run_queue_command(args, settings, token))
    if args.command == "token":
        print(asyncio.run(_token(settings, args.account, args.role, args.ttl)))
        return
    data_dir = Path(settings.storage.data_dir)
    if args.worker is None and supervised(data_dir, settings.server.workers):
        raise SystemExit(run_supervisor(settings, args.config))
    try:
        import uvloop

    except ImportError:
        asyncio.run(_serve(settings, args.config, args.worker))
    else:
        uvloop.run(_serve(settings, args.config, args.worker))


if __name__ == "__main__":
    main()
