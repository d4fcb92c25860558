"""`/v3/messages`: one message with its events, or a filtered list, in the tutorial's
parameter style (`?to_email=..&page_size=..`) or SendGrid's (`?query=..&limit=..`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from control.services import Services
from mta.services.identity import Principal
from mta.services.message_query import from_parameters, parse_query
from mta.services.messages import READ_ALL_SCOPES, MessageView

# Any one will do: a key holding only mail.send reads the messages it sent (the service
# narrows the query to them); the refusal names messages.read.
READ = {"scope": (*READ_ALL_SCOPES, "mail.send")}


@get("/v3/messages/{message_id:str}", opt=READ)
async def get_message(
    message_id: FromPath[str],
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
) -> MessageView:
    return await services.messages.get(principal, message_id)


@get("/v3/messages", opt=READ)
async def list_messages(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    expression: Annotated[str | None, QueryParameter(name="query")] = None,  # `query`: Litestar's
    to_email: FromQuery[str | None] = None,
    from_email: FromQuery[str | None] = None,
    subject: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    msg_id: FromQuery[str | None] = None,
    template_id: FromQuery[str | None] = None,
    categories: FromQuery[str | None] = None,
    api_key_id: FromQuery[str | None] = None,
    last_event_time_after: FromQuery[str | None] = None,
    last_event_time_before: FromQuery[str | None] = None,
    page_size: FromQuery[int] = 10,
    limit: FromQuery[int | None] = None,
) -> dict[str, Any]:
    base = parse_query(expression) if expression is not None else None
    wanted = from_parameters(
        {
            "to_email": to_email,
            "from_email": from_email,
            "subject": subject,
            "status": status,
            "msg_id": msg_id,
            "template_id": template_id,
            "categories": categories,
            "api_key_id": api_key_id,
            "last_event_time_after": last_event_time_after,
            "last_event_time_before": last_event_time_before,
        },
        base,
    )
    size, field = (page_size, "page_size") if limit is None else (limit, "limit")
    messages = await services.messages.list(principal, wanted, page_size=size, size_field=field)
    return {"messages": messages}


ROUTES = [get_message, list_messages]
