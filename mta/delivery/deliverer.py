"""From a recipient domain to an open SMTP session: route (static or MX), then try each next
hop in turn; and the per-recipient transactions (VERP return paths) for a queued message."""

from __future__ import annotations

import random
from collections.abc import Sequence

from config.settings import DeliverySettings
from mta.core.dns import Resolver
from mta.core.errors import PermanentFailure, TransientFailure
from mta.core.return_path import ReturnPathKeys, verp_address
from mta.delivery.client import SmtpConnector, SmtpSession
from mta.delivery.pipelining import Transaction
from mta.delivery.routing import NextHop, route
from queue_store.entries import QueueEntry, RecipientState, SmtpReply

SANDBOX_REPLY = SmtpReply(250, "2.0.0", "test key: message accepted, nothing was sent")


def is_loop(hop: NextHop, own_listeners: Sequence[tuple[str, int]]) -> bool:
    """Whether the next hop is one of our own SMTP listeners (wildcard hosts match any IP)."""
    for host, port in own_listeners:
        if port == hop.port and (host == hop.address or host in ("0.0.0.0", "::", "")):
            return True
    return False


def transactions(
    entry: QueueEntry, states: list[RecipientState], keys: ReturnPathKeys
) -> list[Transaction]:
    """One transaction per recipient, each with the signed VERP return path naming it."""
    env = entry.envelope
    return [
        Transaction(
            verp_address(env.message_id, state.index, env.return_path_host, keys)
            if env.return_path_host
            else env.sender,
            state.email,
        )
        for state in states
    ]


class Deliverer:
    def __init__(
        self,
        settings: DeliverySettings,
        resolver: Resolver,
        connector: SmtpConnector,
        rng: random.Random | None = None,
        own_listeners: Sequence[tuple[str, int]] = (),
        return_path_keys: ReturnPathKeys | None = None,
    ) -> None:
        self._settings = settings
        # the install's keys; a part built without them signs with a key of its own
        self._keys = return_path_keys or ReturnPathKeys.generate()
        self._resolver = resolver
        self._connector = connector
        self._rng = rng or random.Random()
        self._own = tuple(own_listeners)

    def apply_settings(self, settings: DeliverySettings) -> None:
        """A reload: routes and TLS policies for the sessions opened from now on."""
        self._settings = settings

    def transactions(self, entry: QueueEntry, states: list[RecipientState]) -> list[Transaction]:
        """The message's transactions, return paths signed with the install's first key."""
        return transactions(entry, states, self._keys)

    def destination_key(self, domain: str) -> str:
        """Queue key: the static next hop when a route applies, else the domain itself."""
        routes = self._settings.routes
        static = routes.get(domain) or routes.get("*")
        return f"[{static}]" if static else domain

    async def open(self, domain: str) -> SmtpSession:
        """A session to the first reachable next hop for `domain`.

        Raises PermanentFailure (no such domain, null MX) or TransientFailure (DNS trouble,
        every hop unreachable; the last hop's reply)."""
        hops = await route(
            domain,
            routes=self._settings.routes,
            resolver=self._resolver,
            smtp_port=self._settings.smtp_port,
            rng=self._rng,
        )
        policy = self._settings.tls_for(self.destination_key(domain))
        last: TransientFailure | None = None
        for hop in hops:
            if is_loop(hop, self._own):
                reply = SmtpReply(554, "5.4.6", f"mail for {domain} loops back to myself")
                raise PermanentFailure(reply, "destination", hop.host)
            try:
                return await self._connector.open(hop, policy)
            except TransientFailure as failure:
                last = failure
        assert last is not None  # route() never returns an empty list
        raise last
