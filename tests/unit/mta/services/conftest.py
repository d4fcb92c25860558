"""What the service tests share: a real database with the schema and two accounts, `acme`
and `other` (for tenant isolation). Every test runs on SQLite and on PostgreSQL (the
`database` fixture of tests/conftest.py; PostgreSQL is skipped where it is absent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import Database, migrated_sessions


@pytest.fixture
async def sessions(database: Database, tmp_path: Path) -> AsyncIterator[Any]:
    async with migrated_sessions(database, tmp_path, ("acme", "other")) as made:
        yield made
