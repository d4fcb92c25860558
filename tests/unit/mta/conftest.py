"""Fixtures the core's unit tests share: a migrated database (SQLite or PostgreSQL, from the
`database` fixture of tests/conftest.py) and its session factory, seeded with `accounts`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.databases import Database, migrated_sessions


@pytest.fixture
def accounts() -> tuple[str, ...]:
    """The accounts `sessions` starts with; a folder's conftest may name others."""
    return ("acme",)


@pytest.fixture
async def sessions(
    database: Database, tmp_path: Path, accounts: tuple[str, ...]
) -> AsyncIterator[Any]:
    async with migrated_sessions(database, tmp_path, accounts) as made:
        yield made
