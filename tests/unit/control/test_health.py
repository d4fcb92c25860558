"""The pure parts of the operator endpoints: the metrics bearer check and the /readyz body."""

from __future__ import annotations

import pytest

from control.routes.health import bearer_matches, readiness_body


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("Bearer  s3cret ", True),
        ("Bearer wrong", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("", False),
    ],
)
def test_bearer_matches(header: str, expected: bool) -> None:
    assert bearer_matches(header, "s3cret") is expected


def test_readiness_body_names_the_parts_not_ready() -> None:
    ready = readiness_body({"spool": True, "database": True})
    assert (ready.status, ready.not_ready) == ("ok", [])
    waiting = readiness_body({"spool": True, "smtp": False, "database": False})
    assert (waiting.status, waiting.not_ready) == ("unavailable", ["database", "smtp"])
