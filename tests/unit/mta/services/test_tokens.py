"""JWT lifetimes on the server's clock: a token is good from its `iat` until just before its
`exp`, and a token with a bad signature or a future `iat` / `nbf` is refused; the time checks
(PyJWT's rules, on our clock) by a table of cases."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from mta.core.errors import AuthenticationError
from mta.services.identity import (
    BAD_SIGNATURE_HELP,
    EXPIRED_TOKEN_HELP,
    IMMATURE_TOKEN_HELP,
    INVALID_GRANT,
    MALFORMED_TOKEN_HELP,
    TokenService,
    check_times,
)
from tests.support.clock import FakeClock

SECRET = "s" * 48
NOW = 1_700_000_000


async def test_a_token_expires_at_its_exp_on_the_clock() -> None:
    clock = FakeClock(NOW)
    tokens = TokenService(SECRET, clock)
    token = tokens.issue(subject="ada", account_id="acme", role="admin", ttl_seconds=600)
    assert jwt.decode(token, options={"verify_signature": False})["exp"] == NOW + 600
    await clock.advance(599)
    principal = tokens.verify(token)
    assert (principal.subject, principal.account_id, principal.role) == ("ada", "acme", "admin")
    await clock.advance(1)
    with pytest.raises(AuthenticationError):
        tokens.verify(token)


def test_a_token_issued_later_or_signed_otherwise_is_refused() -> None:
    tokens = TokenService(SECRET, FakeClock(NOW))
    claims = {"sub": "ada", "account": "acme", "role": "user", "exp": NOW + 60}
    for extra in ({"iat": NOW + 5}, {"nbf": NOW + 5}):
        with pytest.raises(AuthenticationError):
            tokens.verify(jwt.encode({**claims, **extra}, SECRET, algorithm="HS256"))
    with pytest.raises(AuthenticationError):
        tokens.verify(jwt.encode(claims, "t" * 48, algorithm="HS256"))
    assert tokens.verify(jwt.encode(claims, SECRET, algorithm="HS256")).subject == "ada"


@pytest.mark.parametrize(
    ("claims", "good"),
    [
        ({"exp": NOW + 1}, True),
        ({"exp": NOW}, False),  # expired at its second, as PyJWT has it (exp <= now)
        ({"exp": NOW - 1}, False),
        ({"exp": NOW + 60, "iat": NOW}, True),
        ({"exp": NOW + 60, "iat": NOW + 1}, False),  # issued in the future
        ({"exp": NOW + 60, "nbf": NOW}, True),
        ({"exp": NOW + 60, "nbf": NOW + 1}, False),
        ({"exp": "soon"}, False),  # not an integer
        ({"exp": NOW + 60, "iat": "then"}, False),
        ({"exp": str(NOW + 60)}, True),  # PyJWT takes what int() takes
    ],
)
def test_check_times(claims: dict[str, Any], good: bool) -> None:
    if good:
        check_times(claims, NOW)
        return
    with pytest.raises(jwt.PyJWTError):
        check_times(claims, NOW)


def _refusal_help(tokens: TokenService, token: str) -> str | None:
    with pytest.raises(AuthenticationError) as refused:
        tokens.verify(token)
    assert refused.value.message == INVALID_GRANT  # SendGrid's words, whatever the case
    return refused.value.help


def test_the_refusal_says_which_case_it_is() -> None:
    tokens = TokenService(SECRET, FakeClock(NOW))
    claims = {"sub": "ada", "account": "acme", "role": "user", "exp": NOW + 60}
    expired = jwt.encode({**claims, "exp": NOW - 1}, SECRET, algorithm="HS256")
    assert _refusal_help(tokens, expired) == EXPIRED_TOKEN_HELP
    forged = jwt.encode(claims, "t" * 48, algorithm="HS256")
    assert _refusal_help(tokens, forged) == BAD_SIGNATURE_HELP
    # a forged token that has expired too is a bad signature: nothing else is read of it
    forged_expired = jwt.encode({**claims, "exp": NOW - 1}, "t" * 48, algorithm="HS256")
    assert _refusal_help(tokens, forged_expired) == BAD_SIGNATURE_HELP
    early = jwt.encode({**claims, "nbf": NOW + 5}, SECRET, algorithm="HS256")
    assert _refusal_help(tokens, early) == IMMATURE_TOKEN_HELP
    assert _refusal_help(tokens, "eyJ.forged.token") == MALFORMED_TOKEN_HELP
    bad_role = jwt.encode({**claims, "role": "root"}, SECRET, algorithm="HS256")
    assert _refusal_help(tokens, bad_role) == MALFORMED_TOKEN_HELP
