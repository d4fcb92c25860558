"""The scope catalogue and what a caller may grant: a key hands on only what it holds, a test
key never mints a live one, and a JWT holds every scope."""

from __future__ import annotations

import pytest

from mta.core.errors import PermissionDenied
from mta.core.model import Environment
from mta.services.identity import Principal
from mta.services.scopes import ALL_SCOPES, KNOWN_SCOPES, missing_scopes

JWT = Principal(account_id="a", kind="jwt", subject="u")


def key(*scopes: str, environment: Environment = "live") -> Principal:
    return Principal(
        account_id="a",
        kind="api_key",
        subject="k",
        api_key_id="k",
        scopes=frozenset(scopes),
        environment=environment,
    )


def test_the_catalogue_uses_sendgrids_names() -> None:
    for scope in (
        "mail.send",
        "messages.read",
        "templates.versions.create",
        "stats.read",
        "api_keys.update",
        "user.webhooks.event.settings.read",
        "mail.batch.create",
        "user.scheduled_sends.update",
        "suppression.bounces.read",
    ):
        assert scope in KNOWN_SCOPES
    assert list(ALL_SCOPES) == sorted(KNOWN_SCOPES)
    assert all(scope == scope.lower() and " " not in scope for scope in KNOWN_SCOPES)


@pytest.mark.parametrize(
    ("held", "wanted", "missing"),
    [
        ({"mail.send"}, ["mail.send"], []),
        ({"mail.send"}, [], []),
        ({"mail.send"}, ["mail.send", "templates.read"], ["templates.read"]),
        (set(), ["b.read", "a.read", "b.read"], ["a.read", "b.read"]),
    ],
)
def test_missing_scopes(held: set[str], wanted: list[str], missing: list[str]) -> None:
    assert missing_scopes(frozenset(held), wanted) == missing


@pytest.mark.parametrize(
    ("caller", "scopes", "environment", "refused"),
    [
        (JWT, list(ALL_SCOPES), "live", None),
        (key("api_keys.create", "mail.send"), ["mail.send"], "live", None),
        (key("api_keys.create", "mail.send"), ["api_keys.create"], "test", None),
        (key("api_keys.create", "mail.send"), ["stats.read"], "live", "stats.read"),
        (key("api_keys.create"), ["api_keys.create", "api_keys.delete"], "live", "api_keys.delete"),
        (key("api_keys.create", environment="test"), [], "test", None),
        (key("api_keys.create", environment="test"), [], "live", "test key"),
    ],
)
def test_require_grantable(
    caller: Principal, scopes: list[str], environment: Environment, refused: str | None
) -> None:
    if refused is None:
        caller.require_grantable(scopes, environment)
        return
    with pytest.raises(PermissionDenied, match=refused):
        caller.require_grantable(scopes, environment)


def test_scope_list() -> None:
    assert JWT.scope_list() == list(ALL_SCOPES)
    assert key("stats.read", "mail.send").scope_list() == ["mail.send", "stats.read"]
