"""Unsubscribe mails: mail to the List-Unsubscribe mailto address (unsub+<token>@<return-path
host>) records the unsubscribe; the MX's other mail goes on to the inbound processor."""

from __future__ import annotations

from mta.listeners.ports import InboundSink
from mta.tracking.service import TrackingService
from mta.tracking.tokens import MAILTO_PREFIX


def is_unsubscribe_address(address: str) -> bool:
    return address.lower().startswith(MAILTO_PREFIX)


async def take_unsubscribes(
    tracking: TrackingService, mail_from: str, rcpt_tos: list[str]
) -> list[str]:
    """Record the unsubscribe of every unsub+ recipient whose token is ours; the recipients
    left for the inbound processor (everything else, and unsub+ addresses we did not make)."""
    rest = []
    for rcpt in rcpt_tos:
        if not (
            is_unsubscribe_address(rcpt) and await tracking.unsubscribe_by_mail(rcpt, mail_from)
        ):
            rest.append(rcpt)
    return rest


class UnsubscribeMail:
    """The MX's inbound sink: unsubscribe mails taken here, the rest passed to `inbound`."""

    def __init__(self, inbound: InboundSink, tracking: TrackingService) -> None:
        self._inbound = inbound
        self._tracking = tracking

    async def accepts_domain(self, domain: str) -> bool:
        return await self._inbound.accepts_domain(domain)

    async def receive(
        self, mail_from: str, rcpt_tos: list[str], data: bytes, sender_ip: str = ""
    ) -> None:
        rest = await take_unsubscribes(self._tracking, mail_from, rcpt_tos)
        if rest:
            await self._inbound.receive(mail_from, rest, data, sender_ip)
