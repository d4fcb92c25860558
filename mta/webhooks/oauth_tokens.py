"""OAuth 2.0 client-credentials access tokens for webhooks (RFC 6749 §4.4): fetched from the
webhook's token URL through the sender's SSRF-pinned client, and cached per webhook in memory
until 60 s before they expire (a bounded cache owned by the sender, dropped on a 401)."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from urllib.parse import quote_plus, urlsplit

import httpx
import msgspec

from mta.core.clock import Clock, SystemClock
from mta.webhooks.oauth import OAuthClient

FETCH_TIMEOUT = 10.0
REFRESH_MARGIN = 60.0  # seconds before expiry a cached token is no longer used
DEFAULT_LIFETIME = 3600.0  # when the answer has no expires_in
MAX_TOKENS = 1024
MAX_ANSWER = 65_536
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 §2.1: what may follow "Bearer "


class TokenError(Exception):
    """No usable access token: the reason, for the delivery log."""


class TokenAnswer(msgspec.Struct):
    access_token: str
    token_type: str = "Bearer"
    expires_in: float | str | None = None


class _Entry:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.key = ""
        self.token = ""
        self.use_until = 0.0


def fingerprint(oauth: OAuthClient) -> str:
    """Changes when any credential changes, so a cached token never outlives its settings."""
    raw = "\0".join((oauth.client_id, oauth.client_secret, oauth.token_url)).encode()
    return hashlib.sha256(raw).hexdigest()


def basic_credentials(oauth: OAuthClient) -> tuple[str, str]:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before HTTP Basic encoding."""
    return quote_plus(oauth.client_id), quote_plus(oauth.client_secret)


def lifetime(answer: TokenAnswer) -> float:
    """Seconds the token is valid, from `expires_in` (a number, or digits in a string)."""
    value = answer.expires_in
    if value is None:
        return DEFAULT_LIFETIME
    try:
        seconds = float(value)
    except ValueError:
        raise TokenError(f"expires_in {value!r} is not a number") from None
    if seconds < 0:
        raise TokenError(f"expires_in {value!r} is negative")
    return seconds


def parse_answer(status: int, body: bytes) -> TokenAnswer:
    """The token endpoint's answer, or a TokenError saying what was wrong with it."""
    if status != 200:
        raise TokenError(f"the token endpoint answered HTTP {status}")
    try:
        answer = msgspec.json.decode(body, type=TokenAnswer)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise TokenError(f"the token endpoint's answer is not a token: {exc}"[:300]) from None
    if not answer.access_token:
        raise TokenError("the token endpoint's answer has an empty access_token")
    if not B64TOKEN.fullmatch(answer.access_token):
        raise TokenError("the access_token has characters a bearer token cannot carry")
    if answer.token_type.lower() != "bearer":
        raise TokenError(f"token_type {answer.token_type!r} is not Bearer")
    return answer


class OAuthTokens:
    def __init__(
        self,
        client: httpx.AsyncClient,
        allow_http: bool,
        clock: Clock | None = None,
        limit: int = MAX_TOKENS,
    ) -> None:
        self._client = client
        self._allow_http = allow_http
        self._clock = clock or SystemClock()
        self._limit = limit
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def token(self, webhook_id: str, oauth: OAuthClient) -> str:
        """The webhook's access token: the cached one while it is fresh, else a new one.
        Concurrent POSTs to one webhook wait for one fetch."""
        entry = self._entry(webhook_id)
        key = fingerprint(oauth)
        async with entry.lock:
            if entry.key == key and self._clock.monotonic() < entry.use_until:
                return entry.token
            token, seconds = await self.fetch(oauth)
            entry.key, entry.token = key, token
            entry.use_until = self._clock.monotonic() + seconds - REFRESH_MARGIN
            return token

    def drop(self, webhook_id: str) -> None:
        """Forget the webhook's token (the target refused it): the next POST fetches one."""
        self._entries.pop(webhook_id, None)

    def _entry(self, webhook_id: str) -> _Entry:
        entry = self._entries.get(webhook_id)
        if entry is None:
            entry = self._entries[webhook_id] = _Entry()
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)  # a holder of its lock keeps its reference
        self._entries.move_to_end(webhook_id)
        return entry

    async def fetch(self, oauth: OAuthClient) -> tuple[str, float]:
        """(access token, lifetime in seconds) from the token URL: POST grant_type=
        client_credentials with the client id and secret by HTTP Basic auth."""
        if urlsplit(oauth.token_url).scheme != "https" and not self._allow_http:
            raise TokenError("the token URL must use https")
        try:
            async with asyncio.timeout(FETCH_TIMEOUT):
                status, body = await self._post(oauth)
        except TimeoutError:
            raise TokenError(
                f"no answer from the token endpoint within {FETCH_TIMEOUT:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise TokenError(f"{exc.__class__.__name__}: {exc}"[:300]) from None
        answer = parse_answer(status, body)
        return answer.access_token, lifetime(answer)

    async def _post(self, oauth: OAuthClient) -> tuple[int, bytes]:
        request = self._client.stream(
            "POST",
            oauth.token_url,
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(*basic_credentials(oauth)),
            headers={"Accept": "application/json", "User-Agent": "ScaiSend-Webhook/1"},
            timeout=FETCH_TIMEOUT,
        )
        async with request as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER:
                    raise TokenError(f"the token endpoint's answer is over {MAX_ANSWER} bytes")
            return response.status_code, bytes(body)
