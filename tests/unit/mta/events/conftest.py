"""Fixtures the event tests share: a migrated database (SQLite or PostgreSQL, from the
`database` fixture) and its session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import Database, migrated_sessions


@pytest.fixture
async def sessions(database: Database, tmp_path: Path) -> AsyncIterator[Any]:
    async with migrated_sessions(database, tmp_path) as made:
        yield made
