"""The Alembic migrations against the models: head equals mta.db.models on SQLite and on
PostgreSQL, an old create_all database is adopted, a foreign one is refused."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, String, create_engine, inspect

from mta.db.engine import (
    BASELINE,
    MIGRATIONS,
    SchemaMismatch,
    alembic_config,
    create_schema,
    current_revision,
    head_revision,
    make_engine,
    new_revision,
    upgrade_connection,
)
from mta.db.models import Base


def _diff(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _with_extra_column() -> MetaData:
    """The models plus one column no migration adds: what the agreement test must catch."""
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["accounts"].append_column(Column("nickname", String(40)))
    return metadata


async def _diffs(url: str) -> tuple[list[Any], list[Any]]:
    engine = make_engine(url)
    try:
        await create_schema(engine)
        async with engine.connect() as conn:
            return await conn.run_sync(_diff), await conn.run_sync(_diff, _with_extra_column())
    finally:
        await engine.dispose()


async def test_head_matches_the_models_on_sqlite(tmp_path: Path) -> None:
    same, extra = await _diffs(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert same == []
    assert [d[0] for d in extra] == ["add_column"]  # the comparison does see a new column


async def test_head_matches_the_models_on_postgresql(postgres_cluster: Any) -> None:
    name = await postgres_cluster.create_database(template="template1")  # empty
    try:
        same, extra = await _diffs(postgres_cluster.url(name))
    finally:
        await postgres_cluster.drop_database(name)
    assert same == []
    assert [d[0] for d in extra] == ["add_column"]


async def test_upgrade_is_idempotent_and_reports_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    assert await current_revision(engine) is None
    await create_schema(engine)
    await create_schema(engine)
    assert await current_revision(engine) == head_revision()
    await engine.dispose()


async def test_a_create_all_database_is_stamped_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    # What releases before migrations did: the baseline's tables and columns, unversioned
    # (today's models have columns later migrations add, so create_all of them would not do).
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: upgrade_connection(c, BASELINE))
        await conn.exec_driver_sql("DROP TABLE alembic_version")
        await conn.exec_driver_sql(
            "INSERT INTO accounts (id, name, created_at) VALUES ('a1', 'acme', 1.0)"
        )
    await create_schema(engine)
    assert await current_revision(engine) == head_revision()
    await engine.dispose()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT name FROM accounts").fetchall() == [("acme",)]
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]


async def test_an_unversioned_database_of_other_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "foreign.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (id TEXT PRIMARY KEY)")
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    with pytest.raises(SchemaMismatch, match="accounts"):
        await create_schema(engine)
    assert await current_revision(engine) is None  # nothing was stamped
    await engine.dispose()


async def test_downgrade_to_base_and_up_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await create_schema(engine)

    def down(connection: Connection) -> list[str]:
        command.downgrade(alembic_config(connection), "base")
        return inspect(connection).get_table_names()

    async with engine.begin() as conn:
        assert await conn.run_sync(down) == ["alembic_version"]
    await create_schema(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


def test_new_revision_writes_what_the_models_add(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    models = _with_extra_column()
    head = head_revision()
    path = new_revision("Add account nickname", scripts, models)
    assert head is not None and path.name == f"{int(head[:4]) + 1:04d}_add_account_nickname.py"
    source = path.read_text()
    assert f"down_revision = {head!r}" in source
    assert "op.add_column" in source and "nickname" in source
    engine = create_engine("sqlite://")
    with engine.begin() as conn:  # and the revision brings a database to the models
        upgrade_connection(conn, "head", scripts)
        assert _diff(conn, models) == []
    engine.dispose()


async def test_nodes_starting_at_once_migrate_one_after_another(postgres_cluster: Any) -> None:
    database = await postgres_cluster.create_database(template="template1")  # empty
    engines = [make_engine(postgres_cluster.url(database)) for _ in range(3)]
    try:
        await asyncio.gather(*(create_schema(engine) for engine in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()
        await postgres_cluster.drop_database(database)
