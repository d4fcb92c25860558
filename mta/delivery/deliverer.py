"""One delivery attempt for a queued message: group pending recipients by domain, route,
try each next hop in turn, and return an Outcome per recipient (test keys: nothing sent)."""

from __future__ import annotations

import random
from collections import defaultdict

from config.settings import DeliverySettings
from mta.delivery.client import SmtpConnector, Transaction
from mta.delivery.routing import route
from mta.dns import Resolver
from mta.errors import DeliveryFailure, TransientFailure
from mta.model import Outcome, QueueEntry, RecipientState, SmtpReply, verp_address

SANDBOX_REPLY = SmtpReply(250, "2.0.0", "test key: message accepted, nothing was sent")


class Deliverer:
    def __init__(
        self,
        settings: DeliverySettings,
        resolver: Resolver,
        connector: SmtpConnector,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._resolver = resolver
        self._connector = connector
        self._rng = rng or random.Random()

    async def attempt(
        self, entry: QueueEntry, content: bytes
    ) -> list[tuple[RecipientState, Outcome]]:
        pending = entry.pending
        if entry.envelope.sandbox:
            return [(state, Outcome(reply=SANDBOX_REPLY)) for state in pending]
        by_domain: dict[str, list[RecipientState]] = defaultdict(list)
        for state in pending:
            by_domain[state.email.rpartition("@")[2].lower()].append(state)
        results = []
        for domain, states in by_domain.items():
            results.extend(await self._to_domain(entry, domain, states, content))
        return results

    async def _to_domain(
        self, entry: QueueEntry, domain: str, states: list[RecipientState], content: bytes
    ) -> list[tuple[RecipientState, Outcome]]:
        env = entry.envelope
        transactions = [
            Transaction(
                verp_address(env.message_id, s.index, env.return_path_host)
                if env.return_path_host
                else env.sender,
                s.email,
            )
            for s in states
        ]
        try:
            hops = await route(
                domain,
                routes=self._settings.routes,
                resolver=self._resolver,
                smtp_port=self._settings.smtp_port,
                rng=self._rng,
            )
        except DeliveryFailure as failure:
            return [(s, Outcome(reply=failure.reply)) for s in states]
        last = SmtpReply(451, "4.4.1", f"no next hop reachable for {domain}")
        for hop in hops:
            try:
                result = await self._connector.send(hop, transactions, content)
            except TransientFailure as failure:
                last = failure.reply
                continue
            return [
                (s, Outcome(reply=reply, mx=hop.host, tls=result.tls))
                for s, reply in zip(states, result.replies, strict=True)
            ]
        return [(s, Outcome(reply=last, mx=hops[-1].host)) for s in states]
