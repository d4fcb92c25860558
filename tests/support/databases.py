"""The database a test runs on: `sqlite` (the default file under the data_dir) or
`postgresql` (a fresh copy of the migrated template in the session's cluster, dropped after).
tests/conftest.py parametrizes the `database` fixture over both with these."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account
from mta.db.sealed import Sealer, new_sealing_key, seal_with
from tests.support.postgres import PostgresCluster

KINDS = ("sqlite", "postgresql")
T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to its end from sync code, even when a loop runs in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


@dataclass(frozen=True)
class Database:
    kind: str
    url: str  # `[storage] database_url`; "" for SQLite: the server's default file

    def engine_url(self, directory: Path) -> str:
        """The URL an engine made in the test uses: SQLite's is a file in `directory`."""
        return self.url or f"sqlite+aiosqlite:///{(directory / 'scaisend.db').resolve()}"


@dataclass(frozen=True)
class Backend:
    """One of KINDS; `fresh()` gives a database of it that nobody else uses."""

    kind: str
    cluster: PostgresCluster | None

    @contextlib.contextmanager
    def fresh(self, template: str | None = None) -> Iterator[Database]:
        """A new database (PostgreSQL: a copy of `template`, by default the migrated one)."""
        if self.cluster is None:
            yield Database(self.kind, "")
            return
        cluster = self.cluster
        args = () if template is None else (template,)
        name = run_async(cluster.create_database(*args))
        try:
            yield Database(self.kind, cluster.url(name))
        finally:
            run_async(cluster.drop_database(name))


def backend(request: pytest.FixtureRequest) -> Backend:
    """The Backend of the `db_backend` fixture's parameter (the cluster only if needed)."""
    kind = str(request.param)
    cluster = request.getfixturevalue("postgres_cluster") if kind == "postgresql" else None
    return Backend(kind, cluster)


@contextlib.asynccontextmanager
async def migrated_sessions(
    database: Database, directory: Path, accounts: Iterable[str] = ("acme",)
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on `database` at the head revision, with `accounts` in it."""
    engine = seal_with(make_engine(database.engine_url(directory)), Sealer([new_sealing_key()]))
    try:
        await create_schema(engine)
        made = make_sessionmaker(engine)
        async with made() as session:
            session.add_all([Account(id=a, name=a, created_at=time.time()) for a in accounts])
            await session.commit()
        yield made
    finally:
        await engine.dispose()
