"""Who is calling: the Principal shared by HTTP and SMTP, JWT issue/verify, and scope checks.

JWTs are HS256 with the server's secret; claims `sub`, `account`, `role`, `exp`. The role
`operator` administers the instance and belongs to no account (`account` is empty).
"""

from __future__ import annotations

from typing import Any, Literal

import jwt
import msgspec

from mta.core.clock import Clock, SystemClock
from mta.core.errors import AuthenticationError, PermissionDenied
from mta.core.model import Environment
from mta.services.scopes import ALL_SCOPES, KNOWN_SCOPES, missing_scopes

__all__ = ["INVALID_GRANT", "KNOWN_SCOPES", "Principal", "Role", "TokenService"]

Role = Literal["operator", "admin", "user"]
ROLES = ("operator", "admin", "user")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller: a JWT user (all scopes of its account) or an API key."""

    account_id: str
    kind: Literal["jwt", "api_key", "relay", "user"]  # user: a signed-in person
    subject: str
    role: Role = "user"
    scopes: frozenset[str] = frozenset()
    api_key_id: str | None = None
    environment: Environment = "live"

    @property
    def is_jwt(self) -> bool:
        return self.kind == "jwt"

    @property
    def is_operator(self) -> bool:
        return self.kind in ("jwt", "user") and self.role == "operator"

    def has_scope(self, scope: str) -> bool:
        return self.is_jwt or scope in self.scopes

    def require(self, scope: str) -> None:
        if not self.has_scope(scope):
            raise PermissionDenied(f"access forbidden: this key lacks the scope {scope}")

    def scope_list(self) -> list[str]:
        """The scopes this caller holds, sorted (a JWT holds every scope)."""
        return list(ALL_SCOPES) if self.is_jwt else sorted(self.scopes)

    def require_grantable(self, scopes: list[str], environment: Environment) -> None:
        """A key may hand on only scopes it holds, and a test key cannot mint a live one."""
        if self.is_jwt:
            return
        missing = missing_scopes(self.scopes, scopes)
        if missing:
            raise PermissionDenied(
                f"access forbidden: cannot grant the scope {missing[0]}, which this key lacks",
                field="scopes",
            )
        if self.environment == "test" and environment == "live":
            raise PermissionDenied(
                "access forbidden: a test key cannot create a live key", field="environment"
            )


INVALID_GRANT = "The provided authorization grant is invalid, expired, or revoked"
# 401 `help` for a JWT. The time claims are read only once the signature holds, so "expired"
# and "not yet valid" are said of this server's own tokens only.
EXPIRED_TOKEN_HELP = "expired token: get a new one (scaisend token)"
BAD_SIGNATURE_HELP = (
    "bad signature: this token was not signed with this server's secret "
    "(made with another data_dir or [auth] jwt_secret?)"
)
IMMATURE_TOKEN_HELP = "token not yet valid: its iat or nbf is in the future"
MALFORMED_TOKEN_HELP = (
    "malformed token: not a JWT of this server (HS256, claims sub, account, role, exp)"
)


def token_help(exc: jwt.PyJWTError) -> str:
    """Which of the cases above a PyJWT error is."""
    if isinstance(exc, jwt.ExpiredSignatureError):
        return EXPIRED_TOKEN_HELP
    if isinstance(exc, jwt.InvalidSignatureError):
        return BAD_SIGNATURE_HELP
    if isinstance(exc, jwt.ImmatureSignatureError):
        return IMMATURE_TOKEN_HELP
    return MALFORMED_TOKEN_HELP


def check_times(claims: dict[str, Any], now: float) -> None:
    """The time claims checked against `now` (Unix seconds) as PyJWT checks them against its
    own clock, without leeway: issued and valid from no later than now, expiring after it."""
    for name in ("iat", "nbf", "exp"):
        if name not in claims:
            continue
        try:
            moment = int(claims[name])
        except (ValueError, TypeError, OverflowError):
            raise jwt.DecodeError(f"the {name} claim must be an integer") from None
        if name == "exp" and moment <= now:
            raise jwt.ExpiredSignatureError("Signature has expired")
        if name != "exp" and moment > now:
            raise jwt.ImmatureSignatureError(f"The token is not yet valid ({name})")


class TokenService:
    """Issues and verifies the HS256 JWTs that `/api/admin/*` and `/v3/*` accept."""

    algorithm = "HS256"

    def __init__(self, secret: str, clock: Clock | None = None) -> None:
        self._secret = secret
        self._clock = clock or SystemClock()

    def issue(self, *, subject: str, account_id: str, role: Role, ttl_seconds: int) -> str:
        now = int(self._clock.time())
        claims = {
            "sub": subject,
            "account": account_id,
            "role": role,
            "iat": now,
            "exp": now + ttl_seconds,
        }
        return jwt.encode(claims, self._secret, algorithm=self.algorithm)

    def verify(self, token: str) -> Principal:
        try:
            # The signature and the claims' presence by PyJWT; the times on our clock.
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[self.algorithm],
                options={
                    "require": ["sub", "account", "role", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
            check_times(claims, self._clock.time())
        except jwt.PyJWTError as exc:
            raise AuthenticationError(INVALID_GRANT, help=token_help(exc)) from None
        role = claims["role"]
        account = claims["account"]
        if (
            role not in ROLES
            or not isinstance(account, str)
            or (role == "operator") != (account == "")
        ):
            raise AuthenticationError(INVALID_GRANT, help=MALFORMED_TOKEN_HELP)
        return Principal(
            account_id=claims["account"], kind="jwt", subject=str(claims["sub"]), role=role
        )
