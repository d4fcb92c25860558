"""What the service tests share: a real database with the schema and two accounts, `acme`
and `other` (for tenant isolation). Every test runs on SQLite and on PostgreSQL (a fresh
copy of the migrated template in tests/support/postgres.py; skipped where it is absent)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    database = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        database = await cluster.create_database()
        engine = make_engine(cluster.url(database))
    else:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await create_schema(engine)
    made = make_sessionmaker(engine)
    async with made() as session:
        session.add_all([Account(id=a, name=a, created_at=time.time()) for a in ("acme", "other")])
        await session.commit()
    yield made
    await engine.dispose()
    if database is not None:
        await cluster.drop_database(database)
