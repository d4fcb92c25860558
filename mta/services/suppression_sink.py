"""The suppression sink on the event bus: hard bounces, blocks, spam reports, unsubscribes
and group (un)subscribes become suppression entries, in the bus's own transaction, with
set-based statements (one upsert and one delete a batch at most)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mta.core.events import (
    Bounce,
    Event,
    GroupResubscribe,
    GroupUnsubscribe,
    SpamReport,
    Unsubscribe,
    event_type,
)
from mta.db.models import AsmGroup
from mta.services.suppressions import GROUP, delete_keys, upsert_rows

# Hard-bounce statuses that say the address cannot exist (RFC 3463: bad destination system,
# bad mailbox syntax; RFC 7505: null MX): SendGrid's invalid_emails, not its bounces.
INVALID_STATUSES = frozenset({"5.1.2", "5.1.3", "5.1.10"})

Key = tuple[str, str, int, str]  # account, list, group id (0: none), email


class Placement(msgspec.Struct, frozen=True):
    """What one event does to the lists: add to (or remove from) `list`, group `group_id`."""

    list: str
    group_id: int = 0
    remove: bool = False


def placement(event: Event) -> Placement | None:
    """The pure policy: which list an event puts its address on, if any. Deferrals,
    deliveries, drops and engagement add nothing."""
    if isinstance(event, Bounce):
        if event.type == "blocked" or event.status.startswith("4"):
            return Placement("blocks")  # refused for the message, or expired in the queue
        if event.status in INVALID_STATUSES:
            return Placement("invalid_emails")
        return Placement("bounces")
    if isinstance(event, SpamReport):
        return Placement("spam_reports")
    if isinstance(event, Unsubscribe):
        return Placement("unsubscribes")
    if isinstance(event, GroupUnsubscribe):
        return Placement(GROUP, event.asm_group_id)
    if isinstance(event, GroupResubscribe):
        return Placement(GROUP, event.asm_group_id, remove=True)
    return None


def row_for(event: Event, where: Placement) -> dict[str, Any]:
    reason = getattr(event, "reason", "")
    return {
        "account_id": event.account_id,
        "list": where.list,
        "group_id": where.group_id,
        "email": event.email.lower(),
        "created": event.timestamp,
        "reason": reason,
        "status": getattr(event, "status", "") if where.list != "invalid_emails" else "",
        "ip": getattr(event, "ip", "") if isinstance(event, SpamReport) else "",
        "event_id": event.event_id,
        "event_type": event_type(event),
        "message_id": event.message_id or None,
    }


def final_changes(
    events: Sequence[Event], groups: set[tuple[str, int]]
) -> tuple[dict[Key, dict[str, Any]], set[Key]]:
    """The batch's net effect, in event order: rows to upsert and keys to delete. A group
    unsubscribe for a group the account does not have is a global unsubscribe (SendGrid)."""
    adds: dict[Key, dict[str, Any]] = {}
    removes: set[Key] = set()
    for event in events:
        where = placement(event)
        if where is None:
            continue
        group = (event.account_id, where.group_id)
        if where.list == GROUP and not where.remove and group not in groups:
            where = Placement("unsubscribes")
        key = (event.account_id, where.list, where.group_id, event.email.lower())
        if where.remove:
            adds.pop(key, None)
            removes.add(key)
        else:
            removes.discard(key)
            adds[key] = row_for(event, where)
    return adds, removes


class SuppressionSink:
    """Registered on the EventBus by the composition root."""

    async def apply(self, session: AsyncSession, events: Sequence[Event]) -> None:
        wanted = {
            e.asm_group_id for e in events if isinstance(e, GroupUnsubscribe | GroupResubscribe)
        }
        groups: set[tuple[str, int]] = set()
        if wanted:
            rows = await session.execute(
                select(AsmGroup.account_id, AsmGroup.id).where(AsmGroup.id.in_(wanted))
            )
            groups = {(account, group) for account, group in rows}
        adds, removes = final_changes(events, groups)
        await delete_keys(session, removes)
        await upsert_rows(session, list(adds.values()))
