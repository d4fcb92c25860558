"""`/v3/messages`: one message with its events, or a list filtered by recipient."""

from __future__ import annotations

from typing import Any

from litestar import get

from mta.services.container import Services
from mta.services.identity import Principal
from mta.services.messages import MessageView


@get("/v3/messages/{message_id:str}")
async def get_message(message_id: str, services: Services, principal: Principal) -> MessageView:
    return await services.messages.get(principal, message_id)


@get("/v3/messages")
async def list_messages(
    services: Services,
    principal: Principal,
    to_email: str | None = None,
    page_size: int = 10,
    limit: int | None = None,
) -> dict[str, Any]:
    size = limit if limit is not None else page_size
    messages = await services.messages.list(principal, to_email=to_email, page_size=size)
    return {"messages": messages}


ROUTES = [get_message, list_messages]
