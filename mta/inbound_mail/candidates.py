"""The messages a batch of inbound reports points at, as matching needs them: four queries
for the whole batch (messages, recipients, their accounts' return-path hosts, complaints)
rather than four per report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.db.models import Domain, Message, MessageRecipient
from mta.db.models import Event as EventRow
from mta.inbound_mail.matching import Candidate

CHUNK = 500  # ids per IN (...) list, well under every database's bound on parameters


async def load_candidates(
    sessions: async_sessionmaker[Any], message_ids: Collection[str]
) -> dict[str, Candidate]:
    """message id → Candidate, for those of `message_ids` in the message log."""
    wanted = sorted(set(message_ids))
    found: dict[str, Candidate] = {}
    async with sessions() as session:
        for start in range(0, len(wanted), CHUNK):
            found.update(await _load_chunk(session, wanted[start : start + CHUNK]))
    return found


async def _load_chunk(session: AsyncSession, ids: list[str]) -> dict[str, Candidate]:
    columns = (Message.id, Message.account_id, Message.categories, Message.custom_args)
    messages = list(await session.execute(select(*columns).where(Message.id.in_(ids))))
    if not messages:
        return {}
    recipients: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    rows = await session.execute(
        select(
            MessageRecipient.message_id,
            MessageRecipient.index,
            MessageRecipient.email,
            MessageRecipient.status,
        )
        .where(MessageRecipient.message_id.in_(ids))
        .order_by(MessageRecipient.message_id, MessageRecipient.index)
    )
    for message_id, index, email, status in rows:
        recipients[message_id].append((index, email, status))
    accounts = {message.account_id for message in messages}
    hosts: dict[str, set[str]] = defaultdict(set)
    domains = await session.execute(
        select(Domain.account_id, Domain.return_path_host).where(Domain.account_id.in_(accounts))
    )
    for account_id, host in domains:
        hosts[account_id].add(host.lower())
    complained: dict[str, set[str]] = defaultdict(set)
    reports = await session.execute(
        select(EventRow.message_id, EventRow.email).where(
            EventRow.message_id.in_(ids), EventRow.event_type == "spam_report"
        )
    )
    for message_id, email in reports:
        complained[message_id].add(email.lower())
    return {
        message.id: Candidate(
            message_id=message.id,
            account_id=message.account_id,
            hosts=frozenset(hosts[message.account_id]),
            recipients=recipients[message.id],
            categories=list(message.categories),
            custom_args={k: str(v) for k, v in message.custom_args.items()},
            complained=frozenset(complained[message.id]),
        )
        for message in messages
    }
