"""Roles as scopes, an account's members (never without an admin, never another account's),
and the sign-in throttle on a fake clock and a real database: per user
and per address, the right password waits too, the window passes, and two throttles on one
database (two workers) count together."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from argon2 import PasswordHasher

from mta.core.errors import AuthenticationError, Conflict, NotFound
from mta.services.login_throttle import PER_ADDRESS, PER_USER, WINDOW_SECONDS, LoginThrottle
from mta.services.scopes import KNOWN_SCOPES
from mta.services.user_roles import role_scopes
from mta.services.users import (
    LAST_ADMIN,
    MIN_PASSWORD,
    WRONG_LOGIN,
    UserService,
    UserView,
    generated_password,
)
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
async def test_failures_lock_a_user_or_an_address_for_the_window(
    sessions: Any, users: int, limit: int
) -> None:
    clock = FakeClock()
    workers = LoginThrottle(sessions, clock), LoginThrottle(sessions, clock)
    for n in range(limit):
        throttle = workers[n % 2]  # the failures land on either worker
        assert await throttle.retry_after(f"u{n % users}@x.example", "192.0.2.1") == 0.0
        await throttle.failed(f"u{n % users}@x.example", "192.0.2.1")
        await clock.advance(1.0)
    for throttle in workers:
        wait = await throttle.retry_after("U0@x.example", "192.0.2.1")
        assert wait == pytest.approx(WINDOW_SECONDS - limit)  # until the first one leaves
    assert await workers[0].retry_after("someone@x.example", "198.51.100.7") == 0.0  # others may
    await clock.advance(WINDOW_SECONDS)
    assert await workers[1].retry_after("u0@x.example", "192.0.2.1") == 0.0


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


async def test_an_unknown_email_costs_a_password_check_like_a_known_one(sessions: Any) -> None:
    hasher = CountingHasher()
    users = UserService(sessions, FakeClock(), hasher)
    await users.add("acme", "ada@acme.example", "admin", "correct horse battery")
    for email in ("ada@acme.example", "nobody@acme.example"):
        with pytest.raises(AuthenticationError) as refused:
            await users.sign_in(email, "wrong password here", "192.0.2.1")
        assert refused.value.message == WRONG_LOGIN  # the same words either way
    assert hasher.verified == 2


async def test_members_change_within_their_account_and_one_admin_always_stays(
    sessions: Any,
) -> None:
    users = UserService(sessions, FakeClock(), PasswordHasher(time_cost=1, memory_cost=1024))
    await users.add("acme", "ada@acme.example", "admin", "correct horse battery")
    await users.add("acme", "bo@acme.example", "support", "correct horse battery")
    await users.add("other", "cy@other.example", "admin", "correct horse battery")
    for change in (
        users.set_role("acme", "ada@acme.example", "developer"),
        users.remove_member("acme", "ada@acme.example"),
    ):
        with pytest.raises(Conflict) as refused:
            await change
        assert refused.value.message == LAST_ADMIN
    for other in (
        users.set_role("acme", "cy@other.example", "support"),
        users.remove_member("acme", "cy@other.example"),
    ):
        with pytest.raises(NotFound):
            await other
    await users.set_role("acme", "BO@acme.example", "admin")
    await users.set_role("acme", "ada@acme.example", "support")  # bo is an admin now
    await users.remove_member("acme", "ada@acme.example")
    page = await users.members("acme", limit=10)
    assert [(m.email, m.role) for m in page] == [("bo@acme.example", "admin")]
    assert [m.email for m in await users.members("other", limit=10)] == ["cy@other.example"]


async def test_users_listed_a_page_at_a_time_and_the_operators_alone(sessions: Any) -> None:
    users = UserService(sessions, FakeClock(), CountingHasher())
    for email in ("c@acme.example", "a@acme.example", "b@acme.example"):
        await users.add("acme", email, "support", "correct horse battery")
    await users.add(None, "op@example.com", "operator", "correct horse battery")
    page = await users.list("acme", limit=2, offset=1)
    assert [u.email for u in page] == ["b@acme.example", "c@acme.example"]
    assert [u.email for u in await users.list(operators=True)] == ["op@example.com"]
    assert len(await users.list()) == 4  # the CLI's call: everyone
    assert await users.find(" A@acme.example") == UserView("a@acme.example", "support", "acme")
    assert await users.find("nobody@acme.example") is None


def test_generated_passwords_are_long_enough_and_differ() -> None:
    made = {generated_password() for _ in range(20)}
    assert len(made) == 20 and all(len(p) >= MIN_PASSWORD for p in made)
