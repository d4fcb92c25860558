"""`scaisend user …`: the people who sign in. `add` (an account's admin, developer or support,
or with --operator the instance's operator), `list`, `remove` and `passwd`; a password is
read from standard input (asked twice on a terminal), never from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from config.settings import Settings
from mta.core.errors import NotFound, ScaiSendError
from mta.db.engine import create_schema, database_url, make_engine, make_sessionmaker
from mta.services.user_roles import UserRole
from mta.services.users import UserService

NO_ACCOUNT_HINT = (
    " (make the account first: `scaisend token --account NAME`, POST /v3/subusers, or the"
    " operator's Accounts page in the dashboard)"
)


def add_user_commands(commands: Any, config_help: str) -> None:
    user = commands.add_parser("user", help="the people who sign in (the dashboard)")
    user.add_argument("--config", help=config_help)
    actions = user.add_subparsers(dest="action", required=True)
    add = _action(actions, "add", "add a user; the password is read from stdin", config_help)
    whose = add.add_mutually_exclusive_group(required=True)
    whose.add_argument("--account", help="the account the user belongs to (it must exist)")
    whose.add_argument("--operator", action="store_true", help="the instance's operator")
    add.add_argument("--email", required=True, help="the user's email, to sign in with")
    add.add_argument(
        "--role",
        choices=["admin", "developer", "support"],
        default="developer",
        help="admin: everything in the account; developer: sending, keys, templates, "
        "webhooks; support: reads activity and suppressions (default developer)",
    )
    listing = _action(actions, "list", "the users, of one account or all", config_help)
    listing.add_argument("--account", help="only this account's")
    for name, text in (
        ("remove", "remove a user"),
        ("passwd", "set a new password (stdin); the user's sessions end"),
        ("sign-out", "end every session of the user, wherever it signed in"),
    ):
        action = _action(actions, name, text, config_help)
        action.add_argument("--email", required=True, help="the user's email")


def _action(actions: Any, name: str, text: str, config_help: str) -> argparse.ArgumentParser:
    """An action that also takes --config after it (`scaisend user list --config F`)."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=text)
    parser.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    return parser


def read_password() -> str:
    """From a terminal, asked twice; else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ScaiSendError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def run_user_command(args: argparse.Namespace, settings: Settings) -> int:
    engine = make_engine(
        database_url(settings.storage.database_url, Path(settings.storage.data_dir))
    )
    try:
        await create_schema(engine)
        users = UserService(make_sessionmaker(engine))
        await _act(args, users)
    except NotFound as exc:
        hint = NO_ACCOUNT_HINT if args.action == "add" and not args.operator else ""
        print(f"scaisend: {exc.message}{hint}", file=sys.stderr)
        return 1
    except ScaiSendError as exc:
        print(f"scaisend: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0


async def _act(args: argparse.Namespace, users: UserService) -> None:
    if args.action == "add":
        account = None if args.operator else args.account
        role: UserRole = "operator" if args.operator else args.role
        added = await users.add(account, args.email, role, read_password())
        print(f"added {added.email} ({added.role}{f' of {account}' if account else ''})")
    elif args.action == "list":
        for user in await users.list(args.account):
            print(f"{user.email}\t{user.role}\t{user.account or '(operator)'}")
    elif args.action == "remove":
        await users.remove(args.email)
        print(f"removed {args.email}")
    elif args.action == "sign-out":
        ended = await users.end_sessions(args.email)
        print(f"{ended} session{'' if ended == 1 else 's'} of {args.email} ended")
    else:
        await users.set_password(args.email, read_password())
        print(f"password set for {args.email}; its sessions ended")
