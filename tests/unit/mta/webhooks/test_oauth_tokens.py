"""OAuth token answers (pure: status, JSON shape, token_type, expires_in), the RFC 6750 codes
that make a target's 400 / 403 drop the token, and the per-webhook cache's bound, against a
real token endpoint on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from mta.webhooks.http_client import refuses_token
from mta.webhooks.oauth import OAuthClient
from mta.webhooks.oauth_tokens import (
    DEFAULT_LIFETIME,
    OAuthTokens,
    TokenError,
    basic_credentials,
    lifetime,
    parse_answer,
)
from tests.support.oauth_server import TokenServer


@pytest.mark.parametrize(
    ("status", "body", "seconds"),
    [
        (200, b'{"access_token": "t", "token_type": "Bearer", "expires_in": 3600}', 3600),
        (200, b'{"access_token": "t", "token_type": "bearer", "expires_in": "90"}', 90),
        (200, b'{"access_token": "t"}', DEFAULT_LIFETIME),
        (200, b'{"access_token": "t", "scope": "events", "expires_in": 1.5}', 1.5),
        (200, b'{"access_token": "eyJhbGciOi.eyJzdWIi.sig-_~+/==", "expires_in": 5}', 5),
    ],
)
def test_good_answers(status: int, body: bytes, seconds: float) -> None:
    answer = parse_answer(status, body)
    assert answer.access_token == json.loads(body)["access_token"]
    assert lifetime(answer) == seconds


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b'{"access_token": "t"}', "answered HTTP 500"),
        (200, b"not json", "not a token"),
        (200, b"[]", "not a token"),
        (200, b'{"access_token": ""}', "empty access_token"),
        (200, b'{"access_token": "t", "token_type": "MAC"}', "is not Bearer"),
        (200, b'{"access_token": "t\\r\\nX-Evil: 1"}', "cannot carry"),
        (200, b'{"access_token": "a b"}', "cannot carry"),
    ],
)
def test_bad_answers(status: int, body: bytes, reason: str) -> None:
    with pytest.raises(TokenError, match=reason):
        parse_answer(status, body)


@pytest.mark.parametrize("expires_in", ['"soon"', "-5"])
def test_bad_expires_in(expires_in: str) -> None:
    answer = parse_answer(200, b'{"access_token": "t", "expires_in": %s}' % expires_in.encode())
    with pytest.raises(TokenError, match="expires_in"):
        lifetime(answer)


def test_client_credentials_are_form_encoded_before_basic_auth() -> None:
    oauth = OAuthClient(client_id="a b", client_secret="p:w/+", token_url="https://x/t")
    assert basic_credentials(oauth) == ("a+b", "p%3Aw%2F%2B")


@pytest.mark.parametrize(
    ("status", "headers", "body", "refused"),
    [
        (401, {}, b"", True),
        (403, {}, b'{"error": "insufficient_scope"}', True),
        (400, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"", True),
        (400, {}, b'{"error": "invalid_request"}', True),
        (400, {}, b'{"error": "bad payload"}', False),
        (403, {}, b"forbidden", False),
        (500, {}, b"invalid_token", False),
        (200, {}, b"", False),
    ],
)
def test_which_answers_refuse_the_token(
    status: int, headers: dict[str, str], body: bytes, refused: bool
) -> None:
    assert refuses_token(status, headers.get("WWW-Authenticate", ""), body[:4096]) is refused


@pytest.fixture
def tokens() -> Iterator[TokenServer]:
    server = TokenServer("id", "secret").start()
    yield server
    server.stop()


async def test_the_cache_is_bounded_and_keyed_by_the_credentials(tokens: TokenServer) -> None:
    oauth = OAuthClient(client_id="id", client_secret="secret", token_url=tokens.url)
    async with httpx.AsyncClient() as client:
        cache = OAuthTokens(client, allow_http=True, limit=2)
        assert await cache.token("a", oauth) == "token-1"
        assert await cache.token("b", oauth) == "token-2"
        assert await cache.token("a", oauth) == "token-1"  # cached; "a" is now the newest
        assert await cache.token("c", oauth) == "token-3"  # evicts "b", the least recent
        assert await cache.token("a", oauth) == "token-1"
        assert await cache.token("b", oauth) == "token-4"
        # New credentials for a webhook are not served its old token.
        tokens.client_id = "id2"
        changed = OAuthClient(client_id="id2", client_secret="secret", token_url=tokens.url)
        assert await cache.token("a", changed) == "token-5"
    assert tokens.granted() == 5
