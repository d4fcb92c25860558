"""The webhook sender: claims due outbox rows (FOR UPDATE SKIP LOCKED on PostgreSQL, and a
lease, so two senders or nodes never post the same row), posts them signed through the
pinned transport, and records success, retry or failure.

ScaiSend format: one event a POST, hex HMAC-SHA256 of "{timestamp}.{body}" with the webhook's
secret. SendGrid format: a JSON array of events, also ECDSA-signed when the account enabled it.
A webhook with OAuth client credentials also gets `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

import httpx
import msgspec
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import WebhookSettings
from mta.core.clock import Clock, SystemClock
from mta.core.dns import Resolver
from mta.core.metrics import Metrics
from mta.core.model import new_id
from mta.db.models import Webhook, WebhookDelivery, WebhookSigningKey
from mta.webhooks.jobs import (
    Job,
    Row,
    next_attempt_delay,
    plan_jobs,
    signed,
    target_of,
    token_refused,
)
from mta.webhooks.oauth import OAuthClient
from mta.webhooks.oauth_tokens import OAuthTokens, TokenError
from mta.webhooks.transport import PinnedTransport

log = logging.getLogger(__name__)
CANDIDATES = 500
IDLE_POLL_SECONDS = 5.0
ERROR_LIMIT = 500
D = WebhookDelivery


class WebhookSender:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        settings: WebhookSettings,
        resolver: Resolver,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._sessions = sessions
        self._settings = settings
        self._metrics = metrics
        self._transport = transport or PinnedTransport(
            resolver, settings.allow_private_targets, max_connections=settings.max_concurrency
        )
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            timeout=settings.timeout_seconds,
            trust_env=False,
        )
        self._tokens = OAuthTokens(self._client, settings.allow_private_targets, self._clock)
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._busy: Counter[str] = Counter()

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop posting; claims of POSTs cut short are given back, so nothing waits a lease."""
        tasks = [t for t in (self._task, *self._inflight) if t is not None]
        jobs = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if jobs:
            with contextlib.suppress(Exception):
                await self._release([job.token for job in jobs])
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            wait = IDLE_POLL_SECONDS
            try:
                jobs = await self.claim()
                for job in jobs:
                    self._spawn(job)
                # More may be due at once when this claim was full; else sleep until due.
                wait = 0.0 if jobs and self._free() > 0 else await self._next_due_in()
            except Exception:
                log.exception("event=webhook_loop_failed")
            if wait > 0:
                await self._clock.wait_for(self._wakeup, wait)

    def _free(self) -> int:
        return self._settings.max_concurrency - len(self._inflight)

    def _spawn(self, job: Job) -> None:
        task = asyncio.create_task(self.deliver(job), name=f"webhook-{job.target.webhook_id}")
        self._inflight[task] = job
        self._busy[job.target.webhook_id] += 1

        def done(task: asyncio.Task[None]) -> None:
            self._inflight.pop(task, None)
            self._busy[job.target.webhook_id] -= 1
            self.wake()

        task.add_done_callback(done)

    async def _next_due_in(self) -> float:
        """Seconds until a row not yet due becomes due or a lease runs out (at most the idle
        poll). Rows due now but not claimable (a full webhook, a disabled one) wait for a wake."""
        now = self._clock.time()
        async with self._sessions() as session:
            due = await session.scalar(
                select(func.min(D.next_attempt_at)).where(
                    D.state == "pending", D.next_attempt_at > now
                )
            )
            lease = await session.scalar(
                select(func.min(D.claimed_until)).where(D.state == "sending", D.claimed_until > now)
            )
        soonest = min(
            [float(t) for t in (due, lease) if t is not None], default=now + IDLE_POLL_SECONDS
        )
        return max(0.0, min(IDLE_POLL_SECONDS, soonest - now + 0.01))

    async def claim(self) -> list[Job]:
        """Claim due rows (and rows whose lease ran out) for this sender, as POSTs to make."""
        free = self._free()
        if free <= 0:
            return []
        now, token = self._clock.time(), new_id()
        # Webhooks at their own limit are left out, so a slow one's backlog cannot fill the
        # candidate list and starve the others.
        limit = self._settings.per_webhook_concurrency
        full = [hook for hook, busy in self._busy.items() if busy >= limit]
        claimable = or_(
            and_(D.state == "pending", D.next_attempt_at <= now),
            and_(D.state == "sending", D.claimed_until < now),
        )
        async with self._sessions() as session, session.begin():
            candidates = (
                await session.execute(
                    select(D.id, D.webhook_id, Webhook.format)
                    .join(Webhook, Webhook.id == D.webhook_id)
                    .where(claimable, Webhook.enabled.is_(True), D.webhook_id.not_in(full))
                    .order_by(D.next_attempt_at, D.id)
                    .limit(CANDIDATES)
                    # PostgreSQL: rows another node is claiming right now are skipped, not
                    # waited for; SQLite (one node, one writer) has no row locks and drops it.
                    .with_for_update(of=D, skip_locked=True)
                )
            ).all()
            planned = plan_jobs([tuple(c) for c in candidates], self._busy, self._settings, free)
            if not planned:
                return []
            # The WHERE is checked again by the UPDATE (SQLite's only guard): a row another
            # sender took meanwhile is not taken again.
            await session.execute(
                update(D)
                .where(D.id.in_([i for ids in planned for i in ids]), claimable)
                .values(
                    state="sending",
                    claimed_until=now + self._settings.lease_seconds,
                    claim_token=token,
                ),
                execution_options={"synchronize_session": False},
            )
            return await self._load_jobs(session, planned, token)

    async def _load_jobs(
        self, session: AsyncSession, planned: list[list[str]], token: str
    ) -> list[Job]:
        found = (
            await session.execute(
                select(D, Webhook)
                .join(Webhook, Webhook.id == D.webhook_id)
                .where(D.claim_token == token)
            )
        ).all()
        rows = {item.id: (item, hook) for item, hook in found}
        keys = await self._ecdsa_keys(session, {hook.account_id for _, hook in found})
        jobs = []
        for ids in planned:
            mine = [rows[i] for i in ids if i in rows]
            if not mine:
                continue
            hook = mine[0][1]
            target = target_of(hook)
            jobs.append(
                Job(
                    target=target,
                    rows=[Row(r.id, r.event_type, r.payload, r.attempts) for r, _ in mine],
                    token=token,
                    ecdsa_key=keys.get(hook.account_id) if hook.format == "sendgrid" else None,
                )
            )
        return jobs

    @staticmethod
    async def _ecdsa_keys(session: AsyncSession, accounts: set[str]) -> dict[str, str]:
        found = await session.scalars(
            select(WebhookSigningKey).where(
                WebhookSigningKey.account_id.in_(accounts), WebhookSigningKey.enabled.is_(True)
            )
        )
        return {key.account_id: key.private_key_pem for key in found}

    async def deliver(self, job: Job) -> None:
        status, error = await self.post(job)
        await self._record(job, status, error)

    async def post(self, job: Job) -> tuple[int | None, str | None]:
        """One signed POST; (status, None) when answered, (None, error) when not (a failed
        OAuth token fetch is such an error)."""
        body, headers = signed(job, self._clock.time())
        try:
            if job.target.oauth is not None:
                headers["Authorization"] = "Bearer " + await self._bearer(job, job.target.oauth)
            async with asyncio.timeout(self._settings.timeout_seconds):
                request = self._client.stream(
                    "POST", job.target.url, content=body.encode(), headers=headers
                )
                async with request as response:
                    if job.target.oauth is not None and await token_refused(response):
                        self._tokens.drop(job.target.webhook_id)
                    return response.status_code, None
        except TokenError as exc:
            log.warning(
                "event=webhook_oauth_failed webhook=%s error=%s", job.target.webhook_id, exc
            )
            return None, f"OAuth token: {exc}"[:ERROR_LIMIT]
        except TimeoutError:
            return None, f"no answer within {self._settings.timeout_seconds:g} s"
        except httpx.HTTPError as exc:
            return None, f"{exc.__class__.__name__}: {exc}"[:ERROR_LIMIT]

    async def _bearer(self, job: Job, oauth: OAuthClient) -> str:
        if job.test:
            return (await self._tokens.fetch(oauth))[0]
        return await self._tokens.token(job.target.webhook_id, oauth)

    async def post_test(
        self, webhook_id: str, delivery: WebhookDelivery, oauth: OAuthClient
    ) -> None:
        """Post the (new) test delivery now with these OAuth credentials, once: its outcome is
        final (delivered or failed) and recorded in the delivery log."""
        token = new_id()
        delivery.state, delivery.claim_token = "sending", token
        delivery.claimed_until = self._clock.time() + self._settings.lease_seconds
        async with self._sessions() as session, session.begin():
            hook = await session.get(Webhook, webhook_id)
            if hook is None:
                return
            keys = await self._ecdsa_keys(session, {hook.account_id})
            session.add(delivery)
        target = msgspec.structs.replace(target_of(hook), oauth=oauth)
        row = Row(delivery.id, delivery.event_type, delivery.payload, 0)
        ecdsa = keys.get(hook.account_id) if hook.format == "sendgrid" else None
        job = Job(target=target, rows=[row], token=token, ecdsa_key=ecdsa, test=True)
        status, error = await self.post(job)
        await self._record(job, status, error, retry=False)

    async def _record(
        self, job: Job, status: int | None, error: str | None, retry: bool = True
    ) -> None:
        now = self._clock.time()
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"HTTP {status}" + (" (redirects are not followed)" if status < 400 else "")
        async with self._sessions() as session, session.begin():
            for row in job.rows:
                attempts = row.attempts + 1
                schedule = self._settings.retry_schedule_seconds if retry else []
                delay = next_attempt_delay(attempts, schedule)
                state = "delivered" if delivered else "failed" if delay is None else "pending"
                await session.execute(
                    update(D)
                    .where(D.id == row.id, D.claim_token == job.token)
                    .values(
                        state=state,
                        attempts=attempts,
                        last_status=status,
                        last_error=None if delivered else error,
                        last_attempt_at=now,
                        next_attempt_at=now + delay if state == "pending" and delay else now,
                        claim_token=None,
                        claimed_until=None,
                    ),
                    execution_options={"synchronize_session": False},
                )
        if not delivered:
            if self._metrics is not None:
                self._metrics.webhook_failed()
            log.warning(
                "event=webhook_failed webhook=%s rows=%d status=%s error=%s",
                job.target.webhook_id,
                len(job.rows),
                status,
                error,
            )

    async def backlog(self) -> int:
        """Outbox rows waiting to be posted (for /metrics; one indexed COUNT)."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(D).where(D.state.in_(("pending", "sending")))
            )
        return int(count or 0)

    async def _release(self, tokens: list[str]) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(D)
                .where(D.claim_token.in_(tokens), D.state == "sending")
                .values(state="pending", claim_token=None, claimed_until=None),
                execution_options={"synchronize_session": False},
            )
