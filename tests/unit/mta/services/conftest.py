"""What the service tests share: a real SQLite database with the schema and two accounts,
`acme` and `other` (for tenant isolation)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account


@pytest.fixture
async def sessions(tmp_path: Path) -> AsyncIterator[Any]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await create_schema(engine)
    made = make_sessionmaker(engine)
    async with made() as session:
        session.add_all([Account(id=a, name=a, created_at=time.time()) for a in ("acme", "other")])
        await session.commit()
    yield made
    await engine.dispose()
