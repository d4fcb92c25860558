"""The Queue page: the mail waiting in the durable queue (depth by destination, the deferred
reasons, the messages a page at a time) and hold / release / retry now / delete on each.

An account's admin (or the operator acting as one) sees the account's mail only; the
operator with no account chosen sees the whole instance's. Every call goes through the same
queue control as `/api/admin/queue`, across every worker (control/whole_queue.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import urlencode

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Response

from control.services import Services
from control.ui.caller import UiCaller, ui_caller
from control.ui.forms import field_errors, form_struct, optional
from control.ui.paging import Paging, paging_of, shown_from_all
from control.ui.rendering import SIGN_IN, AnyRequest, Form, missing, page, posted_form, viewer
from control.ui.security import same_token
from control.whole_queue import whole_queue
from mta.core.errors import Conflict, NotFound, ScaiSendError
from mta.scheduler.queue_admin import MAX_LIST, QueuedMessage, QueuedRecipient, QueueState

SLUG = "queue"
Action = Literal["hold", "release", "retry", "delete"]
ACTIONS: tuple[str, ...] = get_args(Action)
STATE_LABELS: dict[str, str] = {
    "": "All queued",
    "deferred": "Deferred",
    "held": "Held",
    "scheduled": "Scheduled",
    "active": "Being delivered",
}
DONE = {
    "hold": "held",
    "release": "released",
    "retry": "set to be retried now",
    "delete": "deleted",
}
KEPT = ("domain", "state", "page")  # the list's query, kept across an action


class QueueFilter(msgspec.Struct, frozen=True):
    """The list's filter, as `/api/admin/queue` takes it (`domain`, `state`)."""

    domain: str | None = None
    state: QueueState | None = None


class Destination(msgspec.Struct, frozen=True):
    domain: str
    messages: int
    oldest: float  # the earliest created_at
    next_attempt: float | None  # the earliest next try of mail not held (None: all held)


class Reason(msgspec.Struct, frozen=True):
    reply: str
    recipients: int


class Row(msgspec.Struct, frozen=True):
    """One queued message as the list shows it."""

    queue_id: str
    message_id: str
    account_id: str
    sender: str
    state: str
    state_label: str
    recipients: list[str]
    attempts: int
    created: str
    next_attempt: str
    last_reply: str
    actions: list[str]


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def pending_recipients(message: QueuedMessage) -> list[QueuedRecipient]:
    return [r for r in message.recipients if r.status == "pending"]


def destinations(messages: Iterable[QueuedMessage]) -> list[Destination]:
    """How many messages wait for each recipient domain, the oldest and the next try; a
    message to two domains counts in both. Deepest first (pure)."""
    found: dict[str, tuple[int, float, float | None]] = {}
    for message in messages:
        for domain in sorted({domain_of(r.email) for r in pending_recipients(message)}):
            due = None if message.state == "held" else next_try(message, domain)
            count, oldest, soonest = found.get(domain, (0, message.created_at, None))
            found[domain] = (count + 1, min(oldest, message.created_at), _earliest(soonest, due))
    rows = [Destination(d, c, o, n) for d, (c, o, n) in found.items()]
    return sorted(rows, key=lambda row: (-row.messages, row.domain))


def next_try(message: QueuedMessage, domain: str) -> float | None:
    """The earliest next attempt of the message's pending recipients at `domain`."""
    due = [r.next_attempt_at for r in pending_recipients(message) if domain_of(r.email) == domain]
    return min(due, default=None)


def deferred_reasons(messages: Iterable[QueuedMessage]) -> list[Reason]:
    """The last SMTP reply of every pending recipient that has one, with how many share it;
    commonest first (pure)."""
    counts: dict[str, int] = {}
    for message in messages:
        for recipient in pending_recipients(message):
            if recipient.last_reply:
                counts[recipient.last_reply] = counts.get(recipient.last_reply, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [Reason(reply, count) for reply, count in ranked]


def actions_for(state: str) -> list[str]:
    """What the list offers on a message: hold or release by its state, retry when it waits,
    delete always (refused while it is being delivered: hold it first)."""
    found = ["release"] if state == "held" else ["hold"]
    if state in ("deferred", "scheduled"):
        found.append("retry")
    return [*found, "delete"]


def row_of(message: QueuedMessage) -> Row:
    pending = pending_recipients(message)
    replies = [r.last_reply for r in pending if r.last_reply]
    due = None if message.state == "held" else message.due_at
    return Row(
        queue_id=message.queue_id,
        message_id=message.message_id,
        account_id=message.account_id,
        sender=message.sender,
        state=message.state,
        state_label=STATE_LABELS.get(message.state, message.state),
        recipients=[r.email for r in pending] or [r.email for r in message.recipients],
        attempts=max((r.attempts for r in message.recipients), default=0),
        created=when(message.created_at),
        next_attempt=when(due) if due is not None else "—",
        last_reply=replies[0] if replies else "",
        actions=actions_for(message.state),
    )


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _earliest(a: float | None, b: float | None) -> float | None:
    present = [t for t in (a, b) if t is not None]
    return min(present) if present else None


def whose(caller: UiCaller) -> str | None:
    """Whose mail the caller may see and touch: None (every account's) for the operator with
    no account chosen, else the account's, as `/api/admin/queue` decides for a token."""
    if caller.is_operator and caller.account is None:
        return None
    return caller.principal.account_id


def back_link(query: dict[str, str], done: str = "", queue_id: str = "") -> str:
    """The list the action was taken from (its filter and page), saying what was done."""
    kept = {key: query[key] for key in KEPT if query.get(key)}
    if done:
        kept.update(done=done, id=queue_id)
    return "/ui/queue" + (f"?{urlencode(kept)}" if kept else "")


async def queue_viewer(request: AnyRequest, services: Services) -> UiCaller | Response[Any]:
    """`viewer` for this page, which also lets the operator with no account chosen in: they
    see the whole instance's queue (linked from the Accounts page)."""
    caller = await ui_caller(request, services)
    if caller is not None and caller.is_operator and caller.account is None:
        return caller
    return await viewer(request, services, SLUG)


async def queue_poster(
    request: AnyRequest, services: Services
) -> tuple[UiCaller, Form] | Response[Any]:
    """`poster` with `queue_viewer`'s caller: the post must carry the session's CSRF token."""
    caller = await queue_viewer(request, services)
    if not isinstance(caller, UiCaller):
        return caller
    form = await posted_form(request)
    if not same_token(form.get("csrf_token", ""), caller.csrf_token):
        return Redirect(SIGN_IN, status_code=303)
    return caller, form


@get("/queue")
async def queue_page(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await queue_viewer(request, services)
    if not isinstance(caller, UiCaller):
        return caller
    return await render(request, services, caller)


async def render(
    request: AnyRequest, services: Services, caller: UiCaller, status: int = 200, problem: str = ""
) -> Any:
    query = dict(request.query_params)
    errors: dict[str, str] = {}
    try:
        chosen = form_struct(
            {"domain": optional(query.get("domain")), "state": optional(query.get("state"))},
            QueueFilter,
        )
    except ScaiSendError as exc:
        errors, chosen, status = field_errors(exc), QueueFilter(), 400
    queue = whole_queue(request, services)
    account = whose(caller)
    everything = await queue.list(account, limit=MAX_LIST)
    paging = paging_of(query)
    listed = await queue.list(
        account, domain=chosen.domain, state=chosen.state, limit=listing_limit(paging)
    )
    done = query.get("done", "")
    return page(
        "queue.html",
        caller,
        status,
        title="Queue",
        current=SLUG,
        instance=account is None,
        destinations=destinations(everything),
        reasons=deferred_reasons(everything),
        counted=len(everything),
        capped=len(everything) >= MAX_LIST,
        messages=shown_from_all([row_of(m) for m in listed], paging, query),
        chosen=chosen,
        typed={"domain": query.get("domain", ""), "state": query.get("state", "")},
        states=STATE_LABELS,
        errors=errors,
        problem=problem,
        done=DONE.get(done, ""),
        done_id=query.get("id", "") if done in DONE else "",
        here=back_link(query),
        when=when,
    )


def listing_limit(paging: Paging) -> int:
    """Enough of the list, due first, to show this page and know whether another follows."""
    return max(1, min(paging.offset + paging.fetch, MAX_LIST))


@post("/queue", status_code=303)
async def queue_action(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    """One action (`act`) on one message (`queue_id`); the query string is the list's, kept
    for the page drawn after it."""
    posted = await queue_poster(request, services)
    if not isinstance(posted, tuple):
        return posted
    caller, form = posted
    action, queue_id = form.get("act", ""), form.get("queue_id", "")
    if action not in ACTIONS or not queue_id:
        return missing(caller, SLUG)
    queue, account = whole_queue(request, services), whose(caller)
    try:
        if action == "hold":
            await queue.hold(account, queue_id)
        elif action == "release":
            await queue.release(account, queue_id)
        elif action == "retry" and not await queue.retry(account, queue_id):
            problem = f"Message {queue_id} was not retried: only deferred or scheduled mail waits."
            return await render(request, services, caller, 409, problem)
        elif action == "delete":
            await queue.delete(account, queue_id)
    except NotFound:
        raise  # another account's id, or gone since the page was drawn: the 404 page
    except Conflict as exc:  # being delivered, or held by a paused batch / disabled account
        return await render(request, services, caller, 409, f"Not possible: {exc.message}.")
    return Redirect(back_link(dict(request.query_params), action, queue_id), status_code=303)


HANDLERS = [queue_page, queue_action]
