"""The data of an existing server that `scaisend token`, `queue` and `events` work with: its
JWT secret and its database, found through the configuration and never created here."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from config.discovery import ConfigSource
from config.settings import Settings
from mta.db.engine import create_schema, database_url, make_engine, make_sessionmaker
from mta.server.key_files import secret_file
from mta.services.accounts import AccountService
from mta.services.identity import Role, TokenService

DATA_DIR_ENV = "SCAISEND__STORAGE__DATA_DIR"


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite database the server keeps in data_dir (None with `database_url` set)."""
    if settings.storage.database_url:
        return None
    return Path(settings.storage.data_dir).absolute() / "scaisend.db"


def missing_files(settings: Settings) -> list[Path]:
    """The files a server that ran with these settings has made and that are not there."""
    wanted = [] if settings.auth.jwt_secret else [secret_file(settings).absolute()]
    database = sqlite_file(settings)
    wanted += [database] if database is not None else []
    return [path for path in wanted if not path.exists()]


def data_dir_origin(settings: Settings, source: ConfigSource) -> str:
    """How data_dir came to be what it is, said for someone looking for it."""
    if os.environ.get(DATA_DIR_ENV):
        return f"from {DATA_DIR_ENV}"
    if source.path is not None:
        return f"from {source.path}"
    return "the default ./var, in the current directory"


def no_data_message(settings: Settings, source: ConfigSource, missing: list[Path]) -> str:
    """What was looked for and where, and how to point the command at the server's data."""
    data_dir = Path(settings.storage.data_dir).absolute()
    names = " and ".join(str(path) for path in missing)
    verb = "does" if len(missing) == 1 else "do"
    return (
        f"scaisend: no data of a server found: {names} {verb} not exist\n"
        f"scaisend: data_dir {data_dir} ({data_dir_origin(settings, source)}); "
        f"configuration: {source.describe()}\n"
        "scaisend: give the server's configuration (--config FILE or SCAISEND_CONFIG), "
        "or start the server with this one first (scaisend serve); nothing was created"
    )


def server_secret(settings: Settings) -> str:
    """The secret the server signs with; missing_files() says first whether it is there."""
    return settings.auth.jwt_secret or secret_file(settings).read_text().strip()


async def issue_token(settings: Settings, account: str | None, role: Role, ttl: int) -> str:
    """A JWT for `account` (created in the server's database if new), or with no account the
    operator's, signed as the server signs: with its configured secret or the one it keeps
    in data_dir."""
    tokens = TokenService(server_secret(settings))
    if account is None:
        return tokens.issue(subject="cli:operator", account_id="", role="operator", ttl_seconds=ttl)
    engine = make_engine(
        database_url(settings.storage.database_url, Path(settings.storage.data_dir))
    )
    try:
        await create_schema(engine)
        row = await AccountService(make_sessionmaker(engine)).get_or_create(account)
    finally:
        await engine.dispose()
    return tokens.issue(subject=f"cli:{account}", account_id=row.id, role=role, ttl_seconds=ttl)


async def existing_account_id(settings: Settings, account: str) -> str:
    """The id of the account named `account` in the server's database; NotFound when there
    is none (unlike issue_token, this creates nothing, and leaves the schema as it is)."""
    engine = make_engine(
        database_url(settings.storage.database_url, Path(settings.storage.data_dir))
    )
    try:
        found = await AccountService(make_sessionmaker(engine)).get(account)
    finally:
        await engine.dispose()
    return found.id


def account_tokens(
    settings: Settings, account: str, account_id: str, ttl: int
) -> Callable[[], str]:
    """A fresh user-role JWT of the account at each call, signed as the server signs (no
    database: the account's id is known)."""
    tokens = TokenService(server_secret(settings))
    return lambda: tokens.issue(
        subject=f"cli:{account}", account_id=account_id, role="user", ttl_seconds=ttl
    )
