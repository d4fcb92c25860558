"""Roles as scopes, and the sign-in throttle on a fake clock: per user and per address, the
right password waits too, and the window passes."""

from __future__ import annotations

import pytest

from mta.services.login_throttle import PER_ADDRESS, PER_USER, WINDOW_SECONDS, LoginThrottle
from mta.services.scopes import KNOWN_SCOPES
from mta.services.user_roles import role_scopes
from tests.support.clock import FakeClock


def test_roles_hold_what_their_work_needs_and_no_more() -> None:
    support, developer = role_scopes("support"), role_scopes("developer")
    assert role_scopes("admin") == frozenset(KNOWN_SCOPES)
    assert role_scopes("operator") == frozenset()  # the operator belongs to no account
    assert {"messages.read", "suppression.bounces.read", "stats.read"} <= support
    assert all(scope.endswith(".read") for scope in support)
    assert support < developer
    assert {"mail.send", "api_keys.create", "templates.create"} <= developer
    assert "user.webhooks.event.settings.update" in developer


@pytest.mark.parametrize(("users", "limit"), [(1, PER_USER), (50, PER_ADDRESS)])
async def test_failures_lock_a_user_or_an_address_for_the_window(users: int, limit: int) -> None:
    clock = FakeClock()
    throttle = LoginThrottle(clock)
    for n in range(limit):
        assert throttle.retry_after(f"u{n % users}@x.example", "192.0.2.1") == 0.0
        throttle.failed(f"u{n % users}@x.example", "192.0.2.1")
    assert throttle.retry_after("u0@x.example", "192.0.2.1") > 0
    assert throttle.retry_after("someone@x.example", "198.51.100.7") == 0.0  # others may
    await clock.advance(WINDOW_SECONDS)
    assert throttle.retry_after("u0@x.example", "192.0.2.1") == 0.0
