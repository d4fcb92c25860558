"""Who is calling: the Principal shared by HTTP and SMTP, JWT issue/verify, and scope checks.

JWTs are HS256 with the server's secret; claims `sub`, `account`, `role`, `exp`.
"""

from __future__ import annotations

import time
from typing import Literal

import jwt
import msgspec

from mta.errors import AuthenticationError, PermissionDenied
from mta.model import Environment

Role = Literal["admin", "user"]

# The scopes an API key may hold (SendGrid's names for what we implement).
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "mail.send",
        "messages.read",
        "email_activity.read",
        "api_keys.create",
        "api_keys.read",
        "api_keys.update",
        "api_keys.delete",
        "templates.create",
        "templates.read",
        "templates.update",
        "templates.delete",
        "templates.versions.create",
        "templates.versions.read",
        "templates.versions.update",
        "templates.versions.delete",
        "templates.versions.activate.create",
        "user.webhooks.event.settings.create",
        "user.webhooks.event.settings.read",
        "user.webhooks.event.settings.update",
        "user.webhooks.event.settings.delete",
        "stats.read",
        "suppression.read",
    }
)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller: a JWT user (all scopes of its account) or an API key."""

    account_id: str
    kind: Literal["jwt", "api_key", "relay"]
    subject: str
    role: Role = "user"
    scopes: frozenset[str] = frozenset()
    api_key_id: str | None = None
    environment: Environment = "live"

    @property
    def is_jwt(self) -> bool:
        return self.kind == "jwt"

    def has_scope(self, scope: str) -> bool:
        return self.is_jwt or scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise PermissionDenied(f"access forbidden: this key lacks the scope {scope}")


class TokenService:
    """Issues and verifies the HS256 JWTs that `/api/admin/*` and `/v3/*` accept."""

    algorithm = "HS256"

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def issue(self, *, subject: str, account_id: str, role: Role, ttl_seconds: int) -> str:
        claims = {
            "sub": subject,
            "account": account_id,
            "role": role,
            "iat": int(time.time()),
            "exp": int(time.time()) + ttl_seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],
                options={"require": ["sub", "account", "role", "exp"]},
            )
        except jwt.PyJWTError:
            raise AuthenticationError(
                "The provided authorization grant is invalid, expired, or revoked"
            ) from None
        role = claims["role"]
        if role not in ("admin", "user") or not isinstance(claims["account"], str):
            raise AuthenticationError("The provided authorization grant is invalid")
        return Principal(
            account_id=claims["account"], kind="jwt", subject=str(claims["sub"]), role=role
        )
