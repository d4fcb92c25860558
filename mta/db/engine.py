"""Create the async engine (SQLite in WAL mode by default, or PostgreSQL through asyncpg)
and bring the schema to the newest Alembic revision (mta/db/migrations), stamping a
database that an older release made with create_all."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, create_engine, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from mta.db.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
MIGRATION_LOCK = 0x5CA15E4D  # the advisory lock key of schema upgrades on PostgreSQL


class SchemaMismatch(RuntimeError):
    """The database has tables but no migration record, and they are not the baseline's."""


def database_url(configured: str, data_dir: Path) -> str:
    return configured or f"sqlite+aiosqlite:///{(data_dir / 'scaisend.db').resolve()}"


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if url.startswith("sqlite"):
        create_private(engine.url.database)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_private(database: str | None) -> None:
    """A SQLite database file not there yet made empty and 0600 before SQLite opens it, so
    that it and the -wal and -shm files SQLite gives its mode are its user's alone."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except (FileExistsError, FileNotFoundError):  # there already; or no directory: SQLite says
        return


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(connection: Connection | None = None, scripts: Path = MIGRATIONS) -> Config:
    """Alembic's configuration, made in code: the package's scripts, and the connection
    env.py runs on (None for commands that only read the scripts, e.g. `heads`)."""
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("file_template", "%%(rev)s")
    config.attributes["connection"] = connection
    return config


async def create_schema(engine: AsyncEngine) -> None:
    """Upgrade the database to the head revision (what start-up and `scaisend db upgrade`
    run); an unversioned database whose tables are the baseline's is stamped first."""
    async with engine.begin() as conn:
        await conn.run_sync(upgrade_connection)


def upgrade_connection(
    connection: Connection, revision: str = "head", scripts: Path = MIGRATIONS
) -> None:
    if connection.dialect.name == "postgresql":
        # Nodes starting at once migrate one after another: the lock lasts until the
        # migrating transaction ends, and the next node then finds the schema at head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    config = alembic_config(connection, scripts)
    if _needs_stamp(connection):
        command.stamp(config, BASELINE)
    command.upgrade(config, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def new_revision(
    message: str, scripts: Path = MIGRATIONS, metadata: MetaData = Base.metadata
) -> Path:
    """Write the next revision (for developers): Alembic's autogenerate, comparing the
    models with the head schema built in a scratch SQLite database. Review it before use."""
    from alembic.script import ScriptDirectory

    count = len(list(ScriptDirectory(str(scripts)).walk_revisions()))
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            upgrade_connection(conn, "head", scripts)
            config = alembic_config(conn, scripts)
            config.attributes["target_metadata"] = metadata
            script = command.revision(
                config,
                message=message,
                autogenerate=True,
                rev_id=f"{count + 1:04d}_{slug}",
            )
    finally:
        engine.dispose()
    assert script is not None and not isinstance(script, list)
    return Path(script.path)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _needs_stamp(connection: Connection) -> bool:
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or not tables:
        return False
    found = {name: _columns(connection, name) for name in tables}
    expected = baseline_shape()
    missing = {
        name: sorted(columns - found.get(name, set()))
        for name, columns in expected.items()
        if columns - found.get(name, set())
    }
    if missing:
        raise SchemaMismatch(
            f"unversioned database does not match the baseline schema; missing: {missing}"
        )
    return True


def baseline_shape() -> dict[str, set[str]]:
    """Table -> column names of the baseline revision, built in a scratch SQLite database."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            upgrade_connection(conn, BASELINE)
            return {
                name: _columns(conn, name)
                for name in inspect(conn).get_table_names()
                if name != "alembic_version"
            }
    finally:
        engine.dispose()


def _columns(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
