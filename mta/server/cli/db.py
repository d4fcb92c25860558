"""`scaisend db …`: bring the configured database to the newest schema revision
(`db upgrade`), say which revision it is at (`db current`), write a new one (`db revision`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from config import Settings
from config.discovery import CONFIG_HELP, ConfigSource
from mta.db.engine import (
    SchemaMismatch,
    create_schema,
    current_revision,
    database_url,
    head_revision,
    make_engine,
    new_revision,
)
from mta.server.private_files import private_dir


def add_db_commands(commands: Any) -> None:
    db = commands.add_parser("db", help="database schema migrations")
    db.add_argument("--config", help=CONFIG_HELP)
    actions = db.add_subparsers(dest="action", required=True)
    for name, text in (
        ("upgrade", "migrate the database to the newest revision"),
        ("current", "print the database's revision (exit 1 if not the newest)"),
    ):
        action: argparse.ArgumentParser = actions.add_parser(name, help=text)
        action.add_argument("--config", default=argparse.SUPPRESS, help=CONFIG_HELP)
    revision = actions.add_parser("revision", help="write the next migration (developers)")
    revision.add_argument(
        "-m", "--message", required=True, help="what the revision changes; names its file"
    )


def run_db_command(args: argparse.Namespace, settings: Settings, source: ConfigSource) -> int:
    """The exit status: 0 done (or at head), 1 not at head, 2 the schema does not match.
    `db upgrade` creates the SQLite database if new; `db current` creates nothing."""
    if args.action == "revision":
        print(new_revision(args.message))
        return 0
    data_dir = Path(settings.storage.data_dir)
    sqlite = None if settings.storage.database_url else data_dir.absolute() / "scaisend.db"
    if sqlite is not None and args.action == "current" and not sqlite.exists():
        print(f"none (head is {head_revision()})")
        print(
            f"scaisend: no database at {sqlite} (configuration: {source.describe()})",
            file=sys.stderr,
        )
        return 1
    if sqlite is not None:
        private_dir(data_dir)
    url = database_url(settings.storage.database_url, data_dir)
    try:
        current = asyncio.run(_run(args.action, url))
    except SchemaMismatch as exc:
        print(f"scaisend: {exc}", file=sys.stderr)
        return 2
    head = head_revision()
    print(f"{current or 'none'}{' (head)' if current == head else f' (head is {head})'}")
    return 0 if current == head else 1


async def _run(action: str, url: str) -> str | None:
    engine = make_engine(url)
    try:
        if action == "upgrade":
            await create_schema(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()
