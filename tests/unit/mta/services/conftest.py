"""What the service tests share: the `sessions` database (tests/unit/mta/conftest.py) starts
with two accounts, `acme` and `other` (for tenant isolation)."""

from __future__ import annotations

import pytest


@pytest.fixture
def accounts() -> tuple[str, ...]:
    return ("acme", "other")
