"""The Activity page: the message log searched by recipient, subject, status, category, date
and SendGrid's `query=` language, a page at a time; and one message's page (its summary,
timeline, SMTP attempts and, while it is queued, the message as sent)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from control.services import Services
from control.ui.caller import UiCaller
from control.ui.forms import field_errors
from control.ui.pages.activity_message import (
    SentMessage,
    attempts,
    sent_message,
    timeline,
    utc,
)
from control.ui.pages.activity_search import STATUS_CHOICES, message_filter, search_of
from control.ui.paging import Shown, paging_of, shown
from control.ui.rendering import AnyRequest, missing, page, viewer
from mta.core.errors import NotFound, ValidationError
from mta.services.messages import MessageView

SLUG = "activity"


class Row(msgspec.Struct, frozen=True):
    """One message of the list."""

    id: str
    at: str
    to_email: str
    more_recipients: int
    subject: str
    status: str


def row_of(message: MessageView) -> Row:
    return Row(
        message.id,
        utc(message.created_at),
        message.to_email,
        max(len(message.to_emails) - 1, 0),
        message.subject,
        message.status,
    )


@get("/activity")
async def activity(request: AnyRequest, services: NamedDependency[Services]) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    query = dict(request.query_params)
    search = search_of(query)
    paging = paging_of(query)
    errors: dict[str, str] = {}
    listed: Shown[Row] | None = None
    try:
        wanted = message_filter(search)
        found = await services.messages.list(
            caller.principal, wanted, page_size=paging.fetch, offset=paging.offset
        )
        listed = shown([row_of(m) for m in found], paging, search.as_query())
    except ValidationError as exc:
        errors = field_errors(exc)
    return page(
        "activity.html",
        caller,
        400 if errors else 200,
        title="Activity",
        current=SLUG,
        search=search,
        statuses=STATUS_CHOICES,
        listed=listed,
        errors=errors,
    )


@get("/activity/{message_id:str}")
async def message_page(
    request: AnyRequest, services: NamedDependency[Services], message_id: FromPath[str]
) -> Any:
    caller = await viewer(request, services, SLUG)
    if not isinstance(caller, UiCaller):
        return caller
    try:
        message = await services.messages.get(caller.principal, message_id)
    except NotFound:
        return missing(caller, SLUG)
    events = message.events or []
    sent = await sent_copy(services, caller.principal.account_id, message.id, message.created_at)
    return page(
        "activity_message.html",
        caller,
        title=f"Message {message.id}",
        current=SLUG,
        message=message,
        created=utc(message.created_at),
        steps=timeline(events),
        tries=attempts(events),
        sent=sent,
    )


async def sent_copy(
    services: Services, account_id: str, message_id: str, logged_at: float
) -> SentMessage | None:
    """The message as sent, while this host's spools still keep a copy of it."""
    raw = await services.sent_mail.content(account_id, message_id, logged_at)
    return None if raw is None else await asyncio.to_thread(sent_message, raw)


HANDLERS = [activity, message_page]
