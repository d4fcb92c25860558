"""One delivery of the log (`WebhookService.delivery`): before any attempt, after one (the
headers and answer kept), in SendGrid's shape for a SendGrid-format webhook, and another
account's or another webhook's delivery as absent as a missing one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from mta.core.errors import NotFound
from mta.db.models import Webhook
from mta.webhooks import WebhookService
from tests.support.webhook_outbox import add_hook, rows, sender
from tests.support.webhook_receiver import WebhookReceiver


async def test_before_and_after_an_attempt(sessions: Any) -> None:
    receiver = WebhookReceiver().start()
    try:
        hook_id = await add_hook(sessions, receiver.url, 1)
        service = WebhookService(sessions, allow_private=True)
        [row] = await rows(sessions)
        before = await service.delivery("acme", hook_id, row.id)
        assert before.request_headers is None and before.events is None
        assert json.loads(before.payload)["event_id"] == row.event_id
        receiver.status, receiver.answer = 500, b"nope"
        posting = sender(sessions)
        try:
            [job] = await posting.claim()
            await posting.deliver(job)
        finally:
            await posting.stop()
        after = await service.delivery("acme", hook_id, row.id)
        assert after.last_status == 500 and after.response_body == "nope" and after.events == 1
        assert after.request_headers is not None
        assert (
            after.request_headers["X-ScaiSend-Signature"]
            == (receiver.deliveries[0].headers["x-scaisend-signature"])
        )
        with pytest.raises(NotFound):
            await service.delivery("globex", hook_id, row.id)
        other = await add_hook(sessions, receiver.url, 0)
        with pytest.raises(NotFound):
            await service.delivery("acme", other, row.id)
    finally:
        receiver.stop()


async def test_a_sendgrid_format_event_is_shown_as_sendgrid_posts_it(sessions: Any) -> None:
    hook_id = await add_hook(sessions, "https://hooks.example.com/", 1)
    async with sessions() as session, session.begin():
        await session.execute(update(Webhook).values(format="sendgrid"))
    [row] = await rows(sessions)
    shown = await WebhookService(sessions, allow_private=True).delivery("acme", hook_id, row.id)
    [event] = json.loads(shown.payload)
    assert event["sg_event_id"] == row.event_id and event["event"] == "delivered"
