"""The webhook outbox in SQL, written in sets: claim due rows (FOR UPDATE SKIP LOCKED on
PostgreSQL, and a lease with a claim token everywhere, so two senders or nodes never post the
same row), record many outcomes in one statement, give claims back. A busy database (SQLite's
lock, a PostgreSQL serialization failure or deadlock) is retried here, never raised to a task."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import msgspec
from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import WebhookSettings
from mta.core.clock import Clock
from mta.core.model import new_id
from mta.db.models import Account, Webhook, WebhookDelivery, WebhookSigningKey
from mta.db.write_turns import WriteTurns
from mta.webhooks.jobs import Batching, Candidate, Job, Plan, Row, plan_jobs, target_of

log = logging.getLogger(__name__)
D = WebhookDelivery
T = cast(Table, WebhookDelivery.__table__)
CANDIDATES = 2000
IDLE_POLL_SECONDS = 5.0
BUSY_RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})
_T = TypeVar("_T")


class Ask(msgspec.Struct, frozen=True):
    """What a sender may claim: POSTs in all (`free`), for each webhook it holds claims for
    (`room`; `new_room` for any other), and how many rows those POSTs may carry at most."""

    room: dict[str, int]
    new_room: int
    free: int
    rows: int


class Claim(msgspec.Struct, frozen=True):
    token: str  # written on every row one claim takes
    until: float  # its lease


class Outcome(msgspec.Struct, frozen=True):
    """What to write back for one claimed row after its POST."""

    row_id: str
    token: str
    state: str  # delivered | pending | failed
    attempts: int
    status: int | None
    error: str | None
    at: float
    next_attempt_at: float
    exchange: str | None = None  # JSON of mta.webhooks.jobs.Exchange


def is_busy(exc: BaseException) -> bool:
    """A database that is busy now and may not be in a moment: SQLite's "database is locked"
    (or "busy"), a PostgreSQL serialization failure, deadlock or lock timeout."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in BUSY_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "is locked" in text


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        settings: WebhookSettings,
        clock: Clock,
        turns: WriteTurns | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._batching = Batching(settings.sendgrid_batch_size, settings.sendgrid_batch_seconds)
        # This sender's writes take turns with the node's other writers, not in SQLite's wait.
        self._turns = turns or WriteTurns()

    async def retrying(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        """`operation`, tried again while the database is busy (after the last pause, the
        error goes to the caller, which keeps its work and tries later)."""
        for pause in (*BUSY_RETRY_SECONDS, None):
            try:
                return await operation()
            except DBAPIError as exc:
                if pause is None or not is_busy(exc):
                    raise
                log.info("event=webhook_outbox_busy operation=%s retry_in=%.2f", what, pause)
                await self._clock.sleep(pause)
        raise AssertionError("unreachable")

    async def claim(self, ask: Ask, outcomes: Sequence[Outcome] = ()) -> tuple[list[Job], Plan]:
        """Write `outcomes` and claim due rows (and rows whose lease ran out) as POSTs, within
        what `ask` allows, in one transaction."""
        return await self.retrying("claim", lambda: self._claim(ask, list(outcomes)))

    async def _claim(self, ask: Ask, outcomes: list[Outcome]) -> tuple[list[Job], Plan]:
        async with self._turns.turn(), self._sessions() as session, session.begin():
            if outcomes:
                await session.execute(RECORD, [outcome_params(o) for o in outcomes])
            if ask.free <= 0:
                return [], Plan([])
            return await self._take(session, ask.room, ask.new_room, ask)

    async def _take(
        self, session: AsyncSession, room: Mapping[str, int], new_room: int, ask: Ask
    ) -> tuple[list[Job], Plan]:
        now, token = self._clock.time(), new_id()
        claimable = or_(and_(*due(now)), and_(*lease_over(now)))
        # A webhook at its limit is left out, so its backlog cannot crowd out the others.
        full = [hook for hook, n in room.items() if n <= 0]
        limit, free = min(CANDIDATES, ask.rows), ask.free
        candidates = [
            *await session.execute(_candidates(full, limit).where(*due(now))),
            *await session.execute(_candidates(full, limit).where(*lease_over(now))),
        ]
        found = [Candidate(*row) for row in candidates]
        plan = plan_jobs(found, room, new_room, free, self._batching, now)
        if not plan.jobs:
            return [], plan
        until = now + self._settings.lease_seconds
        # The WHERE is checked again by the UPDATE (SQLite's only guard): a row another
        # sender took meanwhile is not taken again, and RETURNING says which were.
        claimed = await session.execute(
            update(T)
            .where(T.c.id.in_([i for ids in plan.jobs for i in ids]), claimable)
            .values(state="sending", claimed_until=until, claim_token=token)
            .returning(T.c.id, T.c.event_type, T.c.payload, T.c.attempts)
        )
        rows = {row.id: Row(*row) for row in claimed}
        jobs = await self._jobs(session, plan.jobs, rows, found, Claim(token, until))
        return jobs, plan

    async def _jobs(
        self,
        session: AsyncSession,
        planned: list[list[str]],
        rows: dict[str, Row],
        found: list[Candidate],
        claim: Claim,
    ) -> list[Job]:
        """The claimed rows as POSTs, with each webhook's target and signing key as they
        stand now."""
        hook_of = {c.row_id: c.webhook_id for c in found}
        wanted = {hook_of[i] for i in rows}
        hooks = {
            h.id: h for h in await session.scalars(select(Webhook).where(Webhook.id.in_(wanted)))
        }
        keys = await signing_keys(
            session, {h.account_id for h in hooks.values() if h.format == "sendgrid"}
        )
        jobs = []
        for ids in planned:
            mine = [rows[i] for i in ids if i in rows]
            if not mine or (hook := hooks.get(hook_of[ids[0]])) is None:
                continue
            ecdsa = keys.get(hook.account_id) if hook.format == "sendgrid" else None
            jobs.append(Job(target_of(hook), mine, claim.token, ecdsa, claimed_until=claim.until))
        return jobs

    async def record(self, outcomes: list[Outcome]) -> None:
        """Every outcome in one statement, in one transaction (for a POST made outside the
        claim loop: a test, a stop)."""
        if not outcomes:
            return
        params = [outcome_params(o) for o in outcomes]

        async def write() -> None:
            async with self._turns.turn(), self._sessions() as session, session.begin():
                await session.execute(RECORD, params)

        await self.retrying("record", write)

    async def release(self, jobs: list[Job]) -> None:
        """Give these jobs' claims back: their rows are pending again at once."""
        if not jobs:
            return
        ids = [row.id for job in jobs for row in job.rows]
        tokens = list({job.token for job in jobs})

        async def write() -> None:
            async with self._turns.turn(), self._sessions() as session, session.begin():
                await session.execute(
                    update(D)
                    .where(D.id.in_(ids), D.claim_token.in_(tokens), D.state == "sending")
                    .values(state="pending", claim_token=None, claimed_until=None),
                    execution_options={"synchronize_session": False},
                )

        await self.retrying("release", write)

    async def next_due_in(self) -> float:
        """Seconds until a row not yet due becomes due or a lease runs out (at most the idle
        poll). Rows due now but not claimable (a full webhook, a disabled one) wait for a wake."""
        now = self._clock.time()

        async def query() -> float:
            async with self._sessions() as session:
                due = await session.scalar(
                    select(func.min(D.next_attempt_at)).where(
                        D.state == "pending", D.next_attempt_at > now
                    )
                )
                lease = await session.scalar(
                    select(func.min(D.claimed_until)).where(
                        D.state == "sending", D.claimed_until > now
                    )
                )
            times = [float(t) for t in (due, lease) if t is not None]
            soonest = min(times, default=now + IDLE_POLL_SECONDS)
            return max(0.0, min(IDLE_POLL_SECONDS, soonest - now + 0.01))

        return await self.retrying("next_due", query)

    async def backlog(self) -> int:
        """Outbox rows waiting to be posted (for /metrics; one indexed COUNT)."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(D).where(D.state.in_(("pending", "sending")))
            )
        return int(count or 0)

    async def add_test(self, webhook_id: str, delivery: WebhookDelivery) -> Job | None:
        """A test delivery stored already claimed, as the one job that posts it."""
        token = new_id()
        delivery.state, delivery.claim_token = "sending", token
        delivery.claimed_until = until = self._clock.time() + self._settings.lease_seconds
        async with self._sessions() as session, session.begin():
            hook = await session.get(Webhook, webhook_id)
            if hook is None:
                return None
            keys = await signing_keys(session, {hook.account_id})
            session.add(delivery)
        row = Row(delivery.id, delivery.event_type, delivery.payload, 0)
        ecdsa = keys.get(hook.account_id) if hook.format == "sendgrid" else None
        return Job(target_of(hook), [row], token, ecdsa, test=True, claimed_until=until)


# One statement for any number of outcomes; a row whose claim another sender took over (its
# lease ran out) is left to that sender.
RECORD = (
    update(T)
    .where(T.c.id == bindparam("b_id"), T.c.claim_token == bindparam("b_token"))
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        last_status=bindparam("b_status"),
        last_error=bindparam("b_error"),
        last_attempt_at=bindparam("b_at"),
        next_attempt_at=bindparam("b_next"),
        last_exchange=bindparam("b_exchange"),
        claim_token=None,
        claimed_until=None,
    )
)


def outcome_params(outcome: Outcome) -> dict[str, Any]:
    o = outcome
    return {
        "b_id": o.row_id,
        "b_token": o.token,
        "b_state": o.state,
        "b_attempts": o.attempts,
        "b_status": o.status,
        "b_error": o.error,
        "b_at": o.at,
        "b_next": o.next_attempt_at,
        "b_exchange": o.exchange,
    }


def due(now: float) -> tuple[Any, ...]:
    """Pending rows whose time has come, in the order of the outbox's due index."""
    return (D.state == "pending", D.next_attempt_at <= now)


def lease_over(now: float) -> tuple[Any, ...]:
    """Rows another sender claimed and did not finish within its lease."""
    return (D.state == "sending", D.claimed_until < now)


def _candidates(full: list[str], limit: int) -> Any:
    """Due rows of enabled webhooks not at their limit, oldest due first: the claim's two
    queries (new and retried rows, then lapsed leases) each walk the due index in its order,
    so a backlog of any size costs only `limit` rows. A disabled account's webhooks pause."""
    return (
        select(D.id, D.webhook_id, Webhook.format, D.created_at)
        .join(Webhook, Webhook.id == D.webhook_id)
        .join(Account, Account.id == Webhook.account_id)
        .where(Webhook.enabled.is_(True), Account.disabled.is_(False), D.webhook_id.not_in(full))
        .order_by(D.next_attempt_at)
        .limit(limit)
        # PostgreSQL: rows another node is claiming right now are skipped, not waited for;
        # SQLite (one node, one writer) has no row locks and drops it.
        .with_for_update(of=D, skip_locked=True)
    )


async def signing_keys(session: AsyncSession, accounts: set[str]) -> dict[str, str]:
    """The enabled ECDSA keys of these accounts (SendGrid's signed event webhook)."""
    found = await session.scalars(
        select(WebhookSigningKey).where(
            WebhookSigningKey.account_id.in_(accounts), WebhookSigningKey.enabled.is_(True)
        )
    )
    return {key.account_id: key.private_key_pem for key in found}
