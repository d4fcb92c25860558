"""The webhook sender: claims due outbox rows in sets (mta.webhooks.outbox), posts them signed
over kept-alive connections, each webhook in a lane of its own whose concurrency follows its
receiver (mta.webhooks.pacing), and writes the outcomes back in sets (mta.webhooks.recorder).

ScaiSend format: one event a POST, hex HMAC-SHA256 of "{timestamp}.{body}" with the webhook's
secret. SendGrid format: a JSON array of events, also ECDSA-signed when the account enabled it.
A webhook with OAuth client credentials also gets `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
from typing import Any

import httpx
import msgspec
from sqlalchemy.ext.asyncio import async_sessionmaker

from config.settings import WebhookSettings
from mta.core.clock import Clock, SystemClock
from mta.core.dns import Resolver
from mta.core.metrics import Metrics
from mta.db.models import WebhookDelivery
from mta.db.write_turns import WriteTurns
from mta.webhooks.http_client import ERROR_LIMIT, Answer, WebhookClient
from mta.webhooks.jobs import Job, exchange_of, next_attempt_delay, signed
from mta.webhooks.oauth import OAuthClient
from mta.webhooks.oauth_tokens import OAuthTokens, TokenError
from mta.webhooks.outbox import IDLE_POLL_SECONDS, Ask, Outbox, Outcome
from mta.webhooks.pacing import Pace, PaceRule, capacity, first_pace, paced, room, wants_more
from mta.webhooks.recorder import PendingOutcomes
from mta.webhooks.transport import PinnedTransport

log = logging.getLogger(__name__)
START_CONCURRENCY = 4  # POSTs in flight to a webhook not yet paced
SLOW_ANSWER_SECONDS = 2.0  # an answer this slow halves the webhook's concurrency


class Attempt(msgspec.Struct, frozen=True):
    """One POST as the delivery log sees it: the receiver's answer and the headers sent."""

    answer: Answer
    headers: dict[str, str]


class Lane:
    """One webhook's claimed POSTs: those waiting, those in flight, and its pace."""

    def __init__(self, pace: Pace, batched: bool) -> None:
        self.batched = batched  # SendGrid format: a POST carries a batch of rows
        self.waiting: collections.deque[Job] = collections.deque()
        self.in_flight = 0
        self.pace = pace

    @property
    def held(self) -> int:
        return len(self.waiting) + self.in_flight


class WebhookSender:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        settings: WebhookSettings,
        resolver: Resolver,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        turns: WriteTurns | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._settings = settings
        self._metrics = metrics
        self._outbox = Outbox(sessions, settings, self._clock, turns)
        self._outcomes_due = PendingOutcomes()  # written with the next claim
        self._client = WebhookClient(
            resolver,
            settings.allow_private_targets,
            settings.max_concurrency,
            settings.timeout_seconds,
        )
        # OAuth token requests are few: they go through httpx with the pinned transport.
        self._token_client = httpx.AsyncClient(
            transport=transport or PinnedTransport(resolver, settings.allow_private_targets),
            follow_redirects=False,
            timeout=settings.timeout_seconds,
            trust_env=False,
        )
        self._tokens = OAuthTokens(self._token_client, settings.allow_private_targets, self._clock)
        self._rule = PaceRule(
            min(START_CONCURRENCY, settings.per_webhook_concurrency),
            settings.per_webhook_concurrency,
            SLOW_ANSWER_SECONDS,
        )
        self._lanes: dict[str, Lane] = {}
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._posting: dict[asyncio.Task[None], Job] = {}
        self._giving_back: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop posting: outcomes already in are written; claims of POSTs cut short or not
        begun are given back, so nothing waits for a lease."""
        if self._task is not None:
            self._task.cancel()
        cut = list(self._posting.values())
        for task in self._posting:
            task.cancel()
        running = (self._task, *self._posting, *self._giving_back)
        await asyncio.gather(*(t for t in running if t is not None), return_exceptions=True)
        cut += [job for lane in self._lanes.values() for job in lane.waiting]
        with contextlib.suppress(Exception):
            await self._outbox.record(self._outcomes_due.take())
        with contextlib.suppress(Exception):
            await self._outbox.release(cut)
        await self._client.close()
        await self._token_client.aclose()

    # -- claiming ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            wait = IDLE_POLL_SECONDS
            outcomes = self._outcomes_due.take()
            try:
                jobs, hold_until = await self._claim(outcomes)
                for job in jobs:
                    self._enqueue(job)
                # More may be due at once when this claim found some; else sleep until due.
                wait = 0.0 if jobs and self._free() > 0 else await self._outbox.next_due_in()
                if hold_until is not None:
                    wait = min(wait, max(0.0, hold_until - self._clock.time()))
            except asyncio.CancelledError:
                self._outcomes_due.give_back(outcomes)  # the stop writes them
                raise
            except Exception:
                self._outcomes_due.give_back(outcomes)  # written with the next round
                log.exception("event=webhook_loop_failed")
            if wait > 0:
                await self._clock.wait_for(self._wakeup, wait)
            else:
                await asyncio.sleep(0)  # the POSTs just queued start first

    def _free(self) -> int:
        """How many more POSTs this sender may hold in all (claimed, waiting or in flight)."""
        held = sum(lane.held for lane in self._lanes.values())
        return room(Pace(self._settings.max_concurrency), held)

    async def claim(self) -> list[Job]:
        """Claim what is due now, within every webhook's room and the sender's."""
        return (await self._claim([]))[0]

    async def _claim(self, outcomes: list[Outcome]) -> tuple[list[Job], float | None]:
        """One round: the outcomes in, and what is due now out, in one transaction."""
        jobs, plan = await self._outbox.claim(self._ask(), outcomes)
        return jobs, plan.hold_until

    def _ask(self) -> Ask:
        """This sender's room: each lane's, a new webhook's (its first limit: no queue yet),
        and the rows those POSTs can carry (a SendGrid-format POST, up to a batch)."""
        batch = self._settings.sendgrid_batch_size
        rooms = {h: room(lane.pace, lane.held, lane.batched) for h, lane in self._lanes.items()}
        new_room = first_pace(self._rule).limit
        rows = new_room * batch + sum(
            n * (batch if self._lanes[hook].batched else 1) for hook, n in rooms.items()
        )
        return Ask(rooms, new_room, self._free(), rows)

    # -- posting ----------------------------------------------------------------------------

    def _enqueue(self, job: Job) -> None:
        lane = self._lanes.get(job.target.webhook_id)
        if lane is None:
            pace, batched = first_pace(self._rule), job.target.format == "sendgrid"
            lane = self._lanes[job.target.webhook_id] = Lane(pace, batched)
        lane.waiting.append(job)
        self._fill(lane)

    def _fill(self, lane: Lane) -> None:
        while lane.waiting and lane.in_flight < lane.pace.limit:
            job = lane.waiting.popleft()
            lane.in_flight += 1
            task = asyncio.create_task(self._send(lane, job), name="webhook-post")
            self._posting[task] = job
            task.add_done_callback(functools.partial(self._sent, lane=lane))

    def _sent(self, task: asyncio.Task[None], lane: Lane) -> None:
        self._posting.pop(task, None)
        lane.in_flight -= 1
        self._fill(lane)
        if wants_more(lane.pace, lane.held, lane.batched):
            self.wake()

    def _shed(self, lane: Lane) -> None:
        """A lane whose pace fell holds no more than its new capacity: the claims it has no
        room for go back to the outbox now, not after their lease."""
        excess = lane.held - capacity(lane.pace, lane.batched)
        shed = [lane.waiting.pop() for _ in range(min(excess, len(lane.waiting)))]
        if shed:
            task = asyncio.create_task(self._give_back(shed), name="webhook-give-back")
            self._giving_back.add(task)
            task.add_done_callback(self._giving_back.discard)

    async def _give_back(self, jobs: list[Job]) -> None:
        try:
            await self._outbox.release(jobs)
        except Exception:  # their lease runs out and they are claimed again
            log.exception("event=webhook_release_failed jobs=%d", len(jobs))

    async def _send(self, lane: Lane, job: Job) -> None:
        """Post one job from its lane, pace the lane by the answer, and hand the outcome to
        the recorder; a claim too old to finish within its lease is given back instead."""
        try:
            if self._clock.time() > job.claimed_until - self._settings.timeout_seconds:
                await self._outbox.release([job])
                return
            async with self._slots:
                attempt = await self.post(job)
            answer = attempt.answer
            before, lane.pace = (
                lane.pace,
                paced(lane.pace, self._rule, answer.delivered, answer.seconds),
            )
            if lane.pace.limit < before.limit:
                self._shed(lane)
            self._outcomes_due.add(self._outcomes(job, attempt))
            self.wake()
            self._note(job, answer)
        except Exception:
            log.exception("event=webhook_post_failed webhook=%s", job.target.webhook_id)

    async def deliver(self, job: Job, retry: bool = True) -> None:
        """Post one job and write its outcome before returning (tests, test POSTs)."""
        attempt = await self.post(job)
        await self._outbox.record(self._outcomes(job, attempt, retry))
        self._note(job, attempt.answer)

    async def post(self, job: Job) -> Attempt:
        """One signed POST; a failed OAuth token fetch, or any error the attempt raised, is an
        unanswered POST with its reason (a failed attempt, retried on the schedule)."""
        headers: dict[str, str] = {}
        try:
            return Attempt(await self._post(job, headers), headers)
        except Exception as exc:
            log.exception("event=webhook_attempt_failed webhook=%s", job.target.webhook_id)
            failed = Answer(None, f"{exc.__class__.__name__}: {exc}"[:ERROR_LIMIT], 0.0)
            return Attempt(failed, headers)

    async def _post(self, job: Job, headers: dict[str, str]) -> Answer:
        """POST `job`, filling `headers` with what is sent (kept by the delivery log)."""
        body, made = signed(job, self._clock.time())
        headers.update(made)
        oauth = job.target.oauth
        if oauth is not None:
            try:
                headers["Authorization"] = "Bearer " + await self._bearer(job, oauth)
            except TokenError as exc:
                log.warning(
                    "event=webhook_oauth_failed webhook=%s error=%s", job.target.webhook_id, exc
                )
                return Answer(None, f"OAuth token: {exc}"[:ERROR_LIMIT], 0.0)
        answer = await self._client.post(
            job.target.url, body.encode(), headers, oauth=oauth is not None
        )
        if answer.token_refused:
            self._tokens.drop(job.target.webhook_id)
        return answer

    async def _bearer(self, job: Job, oauth: OAuthClient) -> str:
        if job.test:
            return (await self._tokens.fetch(oauth))[0]
        return await self._tokens.token(job.target.webhook_id, oauth)

    async def post_test(
        self, webhook_id: str, delivery: WebhookDelivery, oauth: OAuthClient
    ) -> None:
        """Post the (new) test delivery now with these OAuth credentials, once: its outcome is
        final (delivered or failed) and recorded in the delivery log."""
        job = await self._outbox.add_test(webhook_id, delivery)
        if job is None:
            return
        target = msgspec.structs.replace(job.target, oauth=oauth)
        await self.deliver(msgspec.structs.replace(job, target=target), retry=False)

    # -- outcomes ---------------------------------------------------------------------------

    def _outcomes(self, job: Job, attempt: Attempt, retry: bool = True) -> list[Outcome]:
        answer = attempt.answer
        now, error = self._clock.time(), failure_reason(answer)
        exchange = exchange_of(attempt.headers, len(job.rows), answer.body_start)
        schedule = self._settings.retry_schedule_seconds if retry else []
        outcomes = []
        for row in job.rows:
            attempts = row.attempts + 1
            delay = next_attempt_delay(attempts, schedule)
            state = "delivered" if answer.delivered else "failed" if delay is None else "pending"
            later = now + delay if state == "pending" and delay else now
            outcomes.append(
                Outcome(
                    row.id, job.token, state, attempts, answer.status, error, now, later, exchange
                )
            )
        return outcomes

    def _note(self, job: Job, answer: Answer) -> None:
        if answer.delivered:
            return
        if self._metrics is not None:
            self._metrics.webhook_failed()
        log.warning(
            "event=webhook_failed webhook=%s rows=%d status=%s error=%s",
            job.target.webhook_id,
            len(job.rows),
            answer.status,
            failure_reason(answer),
        )

    async def backlog(self) -> int:
        """Outbox rows waiting to be posted (for /metrics; one indexed COUNT)."""
        return await self._outbox.backlog()


def failure_reason(answer: Answer) -> str | None:
    """What the delivery log says of an attempt (None for a delivered one)."""
    if answer.delivered:
        return None
    if answer.status is not None:
        return f"HTTP {answer.status}" + (
            " (redirects are not followed)" if answer.status < 400 else ""
        )
    return answer.error
