"""What the webhook sender posts: jobs (a webhook and the outbox rows one POST carries), how
due rows are grouped into them, their signed body and headers, and the reading of an answer
that refuses an OAuth token. Pure functions; mta.webhooks.sender does the I/O."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter

import httpx
import msgspec

from config.settings import WebhookSettings
from mta.db.models import Webhook
from mta.webhooks.oauth import OAuthClient, stored_oauth
from mta.webhooks.sendgrid_format import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ecdsa_sign,
    sendgrid_body,
)

# RFC 6750 §3.1 error codes: a 400 or 403 naming one also means "fetch a new token".
TOKEN_ERRORS = (b"invalid_token", b"invalid_request", b"insufficient_scope")


def sign(secret: str, timestamp: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def next_attempt_delay(attempts: int, schedule: list[int]) -> int | None:
    """Seconds until the next try after `attempts` failures, or None when it is exhausted."""
    return schedule[attempts - 1] if attempts <= len(schedule) else None


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


def plan_jobs(
    candidates: list[tuple[str, str, str]],
    busy: Counter[str],
    settings: WebhookSettings,
    free: int,
) -> list[list[str]]:
    """Group due (row id, webhook id, format) into POSTs, oldest first, within the free global
    slots and each webhook's free slots; a SendGrid-format POST carries up to a batch of rows."""
    jobs: list[list[str]] = []
    open_batch: dict[str, list[str]] = {}
    taken = Counter(busy)
    for row_id, hook_id, fmt in candidates:
        batch = open_batch.get(hook_id)
        if fmt == "sendgrid" and batch is not None and len(batch) < settings.sendgrid_batch_size:
            batch.append(row_id)
            continue
        if len(jobs) >= free or taken[hook_id] >= settings.per_webhook_concurrency:
            continue
        taken[hook_id] += 1
        jobs.append([row_id])
        if fmt == "sendgrid":
            open_batch[hook_id] = jobs[-1]
    return jobs


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


async def token_refused(response: httpx.Response) -> bool:
    """Whether the target refused the access token: a 401, or a 400 / 403 naming an RFC 6750
    error code in WWW-Authenticate or in the first 4 KB of the body."""
    if response.status_code == 401:
        return True
    if response.status_code not in (400, 403):
        return False
    seen = response.headers.get("www-authenticate", "").encode()
    async for chunk in response.aiter_bytes():
        seen += chunk
        if len(seen) >= 4096:
            break
    return any(code in seen for code in TOKEN_ERRORS)
