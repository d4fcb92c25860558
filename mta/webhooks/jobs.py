"""What the webhook sender posts: jobs (a webhook and the outbox rows one POST carries), how
due rows are grouped into them (SendGrid batches by size and time), and their signed body and
headers. Pure functions; mta.webhooks.sender does the I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping

import msgspec

from mta.db.models import Webhook
from mta.webhooks.oauth import OAuthClient, stored_oauth
from mta.webhooks.sendgrid_format import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ecdsa_sign,
    sendgrid_body,
)


def sign(secret: str, timestamp: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def next_attempt_delay(attempts: int, schedule: list[int]) -> int | None:
    """Seconds until the next try after `attempts` failures, or None when it is exhausted."""
    return schedule[attempts - 1] if attempts <= len(schedule) else None


RESPONSE_EXCERPT = 1024  # characters of a receiver's answer the delivery log keeps
HIDDEN = "(hidden)"


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """What the delivery log keeps of one attempt: the headers posted (an OAuth bearer token
    hidden), how many events the POST carried, and the start of the receiver's answer."""

    headers: dict[str, str]
    events: int
    response: str | None = None


def exchange_of(headers: dict[str, str], events: int, answer_start: bytes | None) -> str:
    """An attempt as the JSON the outbox row keeps, bounded whatever the receiver sent."""
    shown = {k: HIDDEN if k.lower() == "authorization" else v for k, v in headers.items()}
    response = None
    if answer_start is not None:
        response = answer_start[: RESPONSE_EXCERPT * 4].decode("utf-8", "replace")
        response = response[:RESPONSE_EXCERPT]
    return msgspec.json.encode(Exchange(headers=shown, events=events, response=response)).decode()


def exchange_from(text: str | None) -> Exchange | None:
    """The stored attempt, or None before the first (or from before it was kept)."""
    if not text:
        return None
    try:
        return msgspec.json.decode(text, type=Exchange)
    except msgspec.DecodeError:
        return None


class Batching(msgspec.Struct, frozen=True):
    """How SendGrid-format rows are batched: up to `size` a POST, or fewer once the oldest
    has waited `seconds`."""

    size: int
    seconds: float


class Target(msgspec.Struct, frozen=True):
    webhook_id: str
    account_id: str
    url: str
    format: str
    secret: str
    oauth: OAuthClient | None = None


class Row(msgspec.Struct, frozen=True):
    id: str
    event_type: str
    payload: str
    attempts: int


class Job(msgspec.Struct, frozen=True):
    """One POST: a webhook and the claimed rows it carries (one, or a SendGrid batch)."""

    target: Target
    rows: list[Row]
    token: str
    ecdsa_key: str | None = None
    test: bool = False  # a test POST: its OAuth token is fetched afresh, not cached
    claimed_until: float = 0.0  # the lease: after it another sender may take the rows


class Candidate(msgspec.Struct, frozen=True, array_like=True):
    """A due outbox row as the claim sees it."""

    row_id: str
    webhook_id: str
    format: str
    created_at: float


class Plan(msgspec.Struct, frozen=True):
    """The POSTs to claim now (row ids each), and when rows held back for a fuller SendGrid
    batch are due anyway (None: none held)."""

    jobs: list[list[str]]
    hold_until: float | None = None


def plan_jobs(
    candidates: list[Candidate],
    room: Mapping[str, int],
    new_room: int,
    free: int,
    batch: Batching,
    now: float,
) -> Plan:
    """Group due rows into POSTs, oldest first: at most `free` in all and `room[webhook]` for
    each webhook (`new_room` for one not in `room`). A SendGrid-format POST carries up to
    `batch.size` rows; a batch not yet full waits until its oldest row is `batch.seconds` old
    (SendGrid batches by size and time)."""
    jobs: list[list[str]] = []
    taken: Counter[str] = Counter()
    hold_until: float | None = None
    for hook_id, fmt, rows in _by_webhook(candidates):
        chunks = _chunks(rows, batch.size) if fmt == "sendgrid" else [[row] for row in rows]
        for chunk in chunks:
            ready = fmt != "sendgrid" or len(chunk) == batch.size
            due = min(row.created_at for row in chunk) + batch.seconds
            if not ready and due > now:
                hold_until = due if hold_until is None else min(hold_until, due)
                continue
            if len(jobs) >= free or taken[hook_id] >= room.get(hook_id, new_room):
                break
            taken[hook_id] += 1
            jobs.append([row.row_id for row in chunk])
    return Plan(jobs, hold_until)


def _by_webhook(candidates: list[Candidate]) -> list[tuple[str, str, list[Candidate]]]:
    """The candidates of each webhook, webhooks in the order of their oldest due row."""
    grouped: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        grouped.setdefault(candidate.webhook_id, []).append(candidate)
    return [(hook, rows[0].format, rows) for hook, rows in grouped.items()]


def _chunks(rows: list[Candidate], size: int) -> list[list[Candidate]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def target_of(hook: Webhook) -> Target:
    oauth = stored_oauth(hook).client()
    return Target(hook.id, hook.account_id, hook.url, hook.format, hook.signing_secret, oauth)


def signed(job: Job, now: float) -> tuple[str, dict[str, str]]:
    """The POST body and headers, stamped `now`: HMAC always, ECDSA too for a signed
    SendGrid-format hook."""
    timestamp = str(int(now))
    headers = {"Content-Type": "application/json", "User-Agent": "ScaiSend-Webhook/1"}
    if job.target.format == "sendgrid":
        body = sendgrid_body([row.payload for row in job.rows])
        if job.ecdsa_key is not None:
            headers[SIGNATURE_HEADER] = ecdsa_sign(job.ecdsa_key, timestamp, body)
            headers[TIMESTAMP_HEADER] = timestamp
    else:
        body = job.rows[0].payload
        headers["X-ScaiSend-Event"] = job.rows[0].event_type
    headers["X-ScaiSend-Signature"] = sign(job.target.secret, timestamp, body)
    headers["X-ScaiSend-Timestamp"] = timestamp
    return body, headers
