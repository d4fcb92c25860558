"""Users who sign in, and their sessions: add, list, remove and change passwords (the CLI);
an account's members as its admin manages them (never leaving it without an admin); sign in
with email and password (an argon2id hash; failures throttled); the session a cookie names
(its hash stored, a CSRF token for every state change, an expiry, revocable).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import secrets
from typing import Any

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.addresses import check_email
from mta.core.clock import Clock, SystemClock
from mta.core.errors import AuthenticationError, Conflict, NotFound, RateLimited, ValidationError
from mta.core.model import new_id
from mta.db.models import Account, User, UserSession
from mta.services.identity import Principal
from mta.services.login_throttle import LoginThrottle
from mta.services.user_roles import ACCOUNT_ROLES, UserRole, role_scopes

SESSION_SECONDS = 12 * 3600.0
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 hashes anything, but no request should make it hash megabytes
WRONG_LOGIN = "wrong email or password"


class UserView(msgspec.Struct, frozen=True):
    email: str
    role: str
    account: str | None  # the account's name; None for the operator


class MemberView(msgspec.Struct, frozen=True):
    """A member of an account as its admin sees them."""

    email: str
    role: str
    created_at: float


class SignedIn(msgspec.Struct, frozen=True):
    """A session: the cookie value (given once), its CSRF token, and who it is."""

    cookie: str
    csrf_token: str
    user: UserView
    expires_at: float


class SessionCaller(msgspec.Struct, frozen=True):
    """What a session cookie names: the caller, and the CSRF token its changes must carry."""

    principal: Principal
    csrf_token: str
    user: UserView


def email_taken(email: str) -> Conflict:
    return Conflict(f"a user with the email {email} exists", field="email")


LAST_ADMIN = "an account keeps at least one admin: make another member admin first"


def session_id(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValidationError(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", field="password"
        )
    return password


def generated_password() -> str:
    """A password for a user made or reset by someone else, shown to them once: 32 random
    URL-safe characters (192 bits), well over MIN_PASSWORD."""
    return secrets.token_urlsafe(24)


def principal_of(user: User) -> Principal:
    role: UserRole = user.role  # type: ignore[assignment]
    return Principal(
        account_id=user.account_id or "",
        kind="user",
        subject=f"user:{user.email}",
        role="operator" if role == "operator" else "admin" if role == "admin" else "user",
        scopes=role_scopes(role),
    )


class UserService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        clock: Clock | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._hasher = hasher or PasswordHasher()  # argon2id, the library's current parameters
        self._throttle = LoginThrottle(sessions, self._clock)
        self._unknown: str | None = None

    async def add(self, account: str | None, email: str, role: UserRole, password: str) -> UserView:
        """A user of the account named (it must exist), or with None the operator."""
        email = check_email(email, "email").lower()
        digest = await asyncio.to_thread(self._hasher.hash, check_password(password))
        async with self._sessions() as session:
            account_id = None
            if account is not None:
                found = await session.scalar(select(Account.id).where(Account.name == account))
                if found is None:
                    raise NotFound(f"no account named {account}")
                account_id = found
            row = User(
                id=new_id(),
                account_id=account_id,
                email=email,
                role=role,
                password_hash=digest,
                created_at=self._clock.time(),
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                raise email_taken(email) from None
        return UserView(email, role, account)

    async def require_free(self, email: str) -> None:
        """Conflict when a user already signs in with `email`."""
        async with self._sessions() as session:
            taken = await session.scalar(select(User.id).where(User.email == email.lower()))
        if taken is not None:
            raise email_taken(email)

    async def list(
        self,
        account: str | None = None,
        *,
        operators: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[UserView]:
        """Every user, or one account's, or with `operators` the instance's operators; by
        email, `limit` of them from `offset` (all when None)."""
        query = select(User, Account.name).outerjoin(Account, Account.id == User.account_id)
        if account is not None:
            query = query.where(Account.name == account)
        if operators:
            query = query.where(User.role == "operator")
        query = query.order_by(User.email).offset(max(offset, 0))
        if limit is not None:
            query = query.limit(max(limit, 1))
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [UserView(user.email, user.role, name) for user, name in rows]

    async def find(self, email: str) -> UserView | None:
        """The user who signs in with `email`, or None."""
        async with self._sessions() as session:
            found = await session.execute(
                select(User, Account.name)
                .outerjoin(Account, Account.id == User.account_id)
                .where(User.email == email.strip().lower())
            )
            row = found.first()
        return None if row is None else UserView(row[0].email, row[0].role, row[1])

    async def remove(self, email: str) -> None:
        async with self._sessions() as session, session.begin():
            user = await self._user(session, email)
            await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
            await session.delete(user)

    async def members(
        self, account_id: str, *, limit: int, offset: int = 0
    ) -> builtins.list[MemberView]:
        """A page of the account's users, by email."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(User)
                .where(User.account_id == account_id)
                .order_by(User.email)
                .limit(limit)
                .offset(offset)
            )
            return [MemberView(user.email, user.role, user.created_at) for user in rows]

    async def set_role(self, account_id: str, email: str, role: UserRole) -> MemberView:
        """A member's new role (the next request holds its rights); NotFound for anyone not
        of the account; Conflict when it would leave the account without an admin."""
        if role not in ACCOUNT_ROLES:
            roles = ", ".join(ACCOUNT_ROLES)
            raise ValidationError(f"a member's role is one of {roles}", field="role")
        async with self._sessions() as session, session.begin():
            user = await self._member(session, account_id, email)
            if user.role == "admin" and role != "admin":
                await self._keep_an_admin(session, account_id, field="role")
            user.role = role
            return MemberView(user.email, user.role, user.created_at)

    async def remove_member(self, account_id: str, email: str) -> None:
        """Remove a member of the account and end their sessions; NotFound for anyone not of
        the account; Conflict when they are its last admin."""
        async with self._sessions() as session, session.begin():
            user = await self._member(session, account_id, email)
            if user.role == "admin":
                await self._keep_an_admin(session, account_id, field="email")
            await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
            await session.delete(user)

    async def set_password(self, email: str, password: str) -> None:
        """A new password; every session of the user ends."""
        digest = await asyncio.to_thread(self._hasher.hash, check_password(password))
        async with self._sessions() as session, session.begin():
            user = await self._user(session, email)
            user.password_hash = digest
            await session.execute(delete(UserSession).where(UserSession.user_id == user.id))

    async def end_sessions(self, email: str) -> int:
        """End every session of the user (a lost laptop, a leaving colleague); how many."""
        async with self._sessions() as session, session.begin():
            user = await self._user(session, email)
            ended = await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        return int(getattr(ended, "rowcount", 0) or 0)

    async def sign_in(self, email: str, password: str, address: str) -> SignedIn:
        """A new session, or AuthenticationError (the same words for any wrong part), or
        RateLimited once this user or address failed too often."""
        wait = await self._throttle.retry_after(email, address)
        if wait > 0:
            raise RateLimited(f"too many failed sign-ins: try again in {int(wait) + 1} s")
        async with self._sessions() as session:
            found = await session.execute(
                select(User, Account.name)
                .outerjoin(Account, Account.id == User.account_id)
                .where(User.email == email.strip().lower())
            )
            row = found.first()
        user, account = (row[0], row[1]) if row is not None else (None, None)
        digest = user.password_hash if user is not None else await self._unknown_user_hash()
        if not await self._matches(digest, password) or user is None:
            await self._throttle.failed(email, address)
            raise AuthenticationError(WRONG_LOGIN)
        return await self._start(user, UserView(user.email, user.role, account))

    async def caller(self, cookie: str) -> SessionCaller | None:
        """The signed-in user a cookie names, while its session lasts."""
        now = self._clock.time()
        async with self._sessions() as session:
            found = await session.execute(
                select(UserSession, User, Account.name)
                .join(User, User.id == UserSession.user_id)
                .outerjoin(Account, Account.id == User.account_id)
                .where(UserSession.id == session_id(cookie), UserSession.expires_at > now)
            )
            row = found.first()
        if row is None:
            return None
        stored, user, account = row
        view = UserView(user.email, user.role, account)
        return SessionCaller(principal_of(user), stored.csrf_token, view)

    async def sign_out(self, cookie: str) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(delete(UserSession).where(UserSession.id == session_id(cookie)))

    async def _unknown_user_hash(self) -> str:
        """A hash to check an unknown email's password against, so that it takes as long
        as a known one's: the answer's time does not tell who has an account."""
        if self._unknown is None:
            self._unknown = await asyncio.to_thread(self._hasher.hash, secrets.token_hex(16))
        return self._unknown

    async def _matches(self, digest: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD:
            return False
        try:
            return await asyncio.to_thread(self._hasher.verify, digest, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _start(self, user: User, view: UserView) -> SignedIn:
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock.time()
        async with self._sessions() as session, session.begin():
            session.add(
                UserSession(
                    id=session_id(cookie),
                    user_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    expires_at=now + SESSION_SECONDS,
                )
            )
        return SignedIn(cookie, csrf, view, now + SESSION_SECONDS)

    @staticmethod
    async def _member(session: Any, account_id: str, email: str) -> User:
        user: User | None = await session.scalar(
            select(User).where(User.email == email.strip().lower(), User.account_id == account_id)
        )
        if user is None:  # another account's user is not found either: nothing is told
            raise NotFound(f"no member with the email {email}", field="email")
        return user

    @staticmethod
    async def _keep_an_admin(session: Any, account_id: str, field: str) -> None:
        """Conflict unless the account has another admin besides the one being changed."""
        admins = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.account_id == account_id, User.role == "admin")
        )
        if int(admins or 0) <= 1:
            raise Conflict(LAST_ADMIN, field=field)

    @staticmethod
    async def _user(session: Any, email: str) -> User:
        user: User | None = await session.scalar(select(User).where(User.email == email.lower()))
        if user is None:
            raise NotFound(f"no user with the email {email}")
        return user
