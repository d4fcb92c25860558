"""API keys: created with scopes and an environment, shown once, stored as a SHA-256 hash.

A key is `SS.<key id>.<secret>`: the id makes look-up one indexed read, the secret is
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import AuthenticationError, NotFound, ValidationError
from mta.core.model import Environment, new_id
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import ApiKey
from mta.services.identity import INVALID_GRANT, KNOWN_SCOPES, Principal

KEY_PREFIX = "SS"
KEY_CACHE_SECONDS = SHARED_CACHE_SECONDS
# 401 `help` for a key: unknown also when the id is known but the secret is not its own, so
# that only the holder of a key learns that it was revoked.
UNKNOWN_KEY_HELP = "unknown API key: no key of this server has this value"
REVOKED_KEY_HELP = "revoked API key: this key was revoked; create a new one"


class KnownKey(msgspec.Struct, frozen=True):
    """What authenticating a key id needs: its stored hash, whether it was revoked, and
    its Principal (None when unknown or revoked)."""

    secret_hash: str
    revoked: bool
    principal: Principal | None


class ApiKeyView(msgspec.Struct, kw_only=True):
    api_key_id: str
    name: str
    environment: Environment
    scopes: list[str]
    created_at: float


class CreatedKey(msgspec.Struct, kw_only=True):
    view: ApiKeyView
    api_key: str


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    """(key id, secret) from `SS.<id>.<secret>`, or None when it is not of that form."""
    parts = raw.strip().split(".")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [scope for scope in scopes if scope not in KNOWN_SCOPES]
    if unknown:
        raise ValidationError(f"unknown scope {unknown[0]!r}", field="scopes")
    return sorted(set(scopes))


def _view(row: ApiKey) -> ApiKeyView:
    env: Environment = "test" if row.environment == "test" else "live"
    return ApiKeyView(
        api_key_id=row.id,
        name=row.name,
        environment=env,
        scopes=list(row.scopes),
        created_at=row.created_at,
    )


class ApiKeyService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        # key id → its KnownKey: every request authenticates, so the
        # row is read at most every KEY_CACHE_SECONDS; a revoke here forgets it at once.
        self._known: TtlCache[str, KnownKey] = TtlCache(KEY_CACHE_SECONDS, clock=self._clock)

    async def create(
        self, account_id: str, name: str, environment: Environment, scopes: list[str]
    ) -> CreatedKey:
        if not name.strip():
            raise ValidationError("name is required", field="name")
        key_id, secret = new_id(), secrets.token_urlsafe(32)
        row = ApiKey(
            id=key_id,
            account_id=account_id,
            name=name,
            environment=environment,
            scopes=check_scopes(scopes),
            secret_hash=hash_secret(secret),
            created_at=self._clock.time(),
            revoked_at=None,
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
        return CreatedKey(view=_view(row), api_key=f"{KEY_PREFIX}.{key_id}.{secret}")

    async def get(self, account_id: str, key_id: str) -> ApiKeyView:
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id)
        if row is None or row.account_id != account_id or row.revoked_at is not None:
            raise NotFound("api key not found")
        return _view(row)

    async def update(
        self, account_id: str, key_id: str, name: str, scopes: list[str] | None
    ) -> ApiKeyView:
        """Rename a key and, when `scopes` is given, replace its scopes."""
        if not name.strip():
            raise ValidationError("name is required", field="name")
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id)
            if row is None or row.account_id != account_id or row.revoked_at is not None:
                raise NotFound("api key not found")
            row.name = name
            if scopes is not None:
                row.scopes = check_scopes(scopes)
            await session.commit()
            view = _view(row)
        self._known.forget(key_id)  # the new scopes hold from the next request
        return view

    async def list(
        self, account_id: str, *, limit: int | None = None, offset: int = 0
    ) -> list[ApiKeyView]:
        """The account's keys not revoked, oldest first; all of them, or a page."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ApiKey)
                .where(ApiKey.account_id == account_id, ApiKey.revoked_at.is_(None))
                .order_by(ApiKey.created_at, ApiKey.id)
                .limit(limit)
                .offset(offset)
            )
            return [_view(row) for row in rows]

    async def revoke(self, account_id: str, key_id: str) -> None:
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id)
            if row is None or row.account_id != account_id or row.revoked_at is not None:
                raise NotFound("api key not found")
            row.revoked_at = self._clock.time()
            await session.commit()
        self._known.forget(key_id)

    async def authenticate(self, raw_key: str) -> Principal:
        parts = split_key(raw_key)
        if parts is None:
            raise AuthenticationError(INVALID_GRANT, help=UNKNOWN_KEY_HELP)
        key_id, secret = parts
        known = await self._known.get_or_load(key_id, lambda: self._load(key_id))
        if not hmac.compare_digest(known.secret_hash, hash_secret(secret)):
            raise AuthenticationError(INVALID_GRANT, help=UNKNOWN_KEY_HELP)
        if known.principal is None:
            help = REVOKED_KEY_HELP if known.revoked else UNKNOWN_KEY_HELP
            raise AuthenticationError(INVALID_GRANT, help=help)
        return known.principal

    async def _load(self, key_id: str) -> KnownKey:
        async with self._sessions() as session:
            row = await session.get(ApiKey, key_id)
        if row is None:  # a hash no secret has (split_key wants one), compared all the same
            return KnownKey(hash_secret(""), revoked=False, principal=None)
        if row.revoked_at is not None:
            return KnownKey(row.secret_hash, revoked=True, principal=None)
        environment: Environment = "test" if row.environment == "test" else "live"
        principal = Principal(
            account_id=row.account_id,
            kind="api_key",
            subject=row.id,
            scopes=frozenset(row.scopes),
            api_key_id=row.id,
            environment=environment,
        )
        return KnownKey(row.secret_hash, revoked=False, principal=principal)
