"""The inbound MX handler (port 25): no AUTH, STARTTLS offered, RCPT only for our own domains
(no relaying, no source routes or `%`/`!` routing), DATA handed to the inbound processor.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import ssl
from collections.abc import Callable, Sequence

from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import Envelope, Session

from config.settings import SmtpSettings
from mta.listeners.admission import admission_setup
from mta.listeners.factory import ProtocolFactory
from mta.listeners.limits import ConnectionLimits, in_networks
from mta.listeners.ports import InboundSink, RelaySink
from mta.listeners.protocol import (
    IngressSMTP,
    error_reply,
    internal_error,
    reverse_path,
    smtp_options,
    unexpected_exception_reply,
)
from mta.listeners.trace import session_trace

log = logging.getLogger(__name__)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

RELAY_DENIED = "554 5.7.1 Relay access denied"
NO_AUTH = "502 5.5.1 AUTH not available on this port"
LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
ROUTING_CHARACTERS = frozenset("@%!")


def plain_domain(address: str) -> str | None:
    """The lower-cased domain of a plain `local@domain` address, else None.

    None for source routes, `%` or `!` routing, address literals and malformed domains.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or ROUTING_CHARACTERS & set(local):
        return None
    domain = domain.lower().removesuffix(".")
    if not domain or len(domain) > 253:
        return None
    if not all(LABEL.fullmatch(label) for label in domain.split(".")):
        return None
    return domain


def has_source_route(rcpt_arg: str) -> bool:
    """True for `TO:<@hop,@hop:user@domain>`; aiosmtpd silently strips the route."""
    _, _, path = rcpt_arg.partition(":")
    return path.lstrip().startswith("<@")


class MxEnvelope(Envelope):
    """aiosmtpd's envelope plus the recipients accepted for relaying (trusted clients only)."""

    def __init__(self) -> None:
        super().__init__()
        self.relay_rcpts: list[str] = []


class MxSMTP(IngressSMTP):
    """The MX protocol: AUTH refused outright, source-routed RCPTs refused before parsing."""

    def _create_envelope(self) -> MxEnvelope:  # documented as overridable (aiosmtpd_private)
        return MxEnvelope()

    async def smtp_AUTH(self, arg: str) -> None:
        await self.push(NO_AUTH)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if arg is not None and has_source_route(arg):
            log.info("session %s: source-routed recipient refused", self.session_id)
            await self.push(RELAY_DENIED)
            return
        await super().smtp_RCPT(arg)


class MxHandler:
    """aiosmtpd handler for the MX port; stateless, shared by all connections."""

    def __init__(
        self,
        inbound: InboundSink,
        relay: RelaySink | None = None,
        relay_networks: Sequence[IPNetwork] = (),
    ) -> None:
        self._inbound = inbound
        self._relay = relay
        self._relay_networks = tuple(relay_networks)

    def apply_settings(self, relay: RelaySink | None, relay_networks: Sequence[IPNetwork]) -> None:
        """A reload: who may relay through the MX port, from their next RCPT."""
        self._relay = relay
        self._relay_networks = tuple(relay_networks)

    def _trusted(self, server: MxSMTP) -> bool:
        """Whether the client's address (a PROXY header's source) is in `[smtp] relay_networks`."""
        return self._relay is not None and in_networks(server.client_ip, self._relay_networks)

    async def handle_EHLO(
        self,
        server: MxSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to the hook when one exists
        return [line for line in responses if not line[4:].upper().startswith("AUTH")]

    async def handle_MAIL(
        self,
        server: MxSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        too_many = server.count_message()
        if too_many is not None:
            return too_many
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: MxSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        domain = plain_domain(address)
        try:
            accepted = domain is not None and await self._inbound.accepts_domain(domain)
        except Exception:
            log.exception("session %s: domain lookup failed", server.session_id)
            return internal_error(server.session_id)
        if not accepted and domain is not None and self._trusted(server):
            assert isinstance(envelope, MxEnvelope)
            envelope.relay_rcpts.append(address)
        elif not accepted:
            log.info(
                "session %s: relay denied for %r from %s",
                server.session_id,
                address,
                server.client_ip,
            )
            return RELAY_DENIED
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: MxSMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        relayed = envelope.relay_rcpts if isinstance(envelope, MxEnvelope) else []
        ours = [rcpt for rcpt in envelope.rcpt_tos if rcpt not in relayed]
        sender = reverse_path(envelope.mail_from)
        relay = self._relay
        if relayed and relay is None:  # a reload withdrew the relay after RCPT
            return "451 4.3.0 Relaying was reconfigured, try again later"
        try:
            if relayed and relay is not None:
                trace = session_trace(server, session)
                queued = await relay.submit_relay(sender, list(relayed), data, trace)
                if not ours:
                    return f"250 2.0.0 Ok: queued as {queued}"
            await self._inbound.receive(sender, ours, data, sender_ip=server.client_ip)
        except Exception as exc:
            known = error_reply(exc)
            if known is not None:
                return known
            log.error("session %s: inbound processing failed", server.session_id, exc_info=exc)
            return internal_error(server.session_id)
        return "250 2.0.0 Ok"

    async def handle_PROXY(
        self, server: MxSMTP, session: Session, envelope: Envelope, proxy_data: ProxyData
    ) -> bool:
        return await server.admit_proxied()

    async def handle_exception(self, error: Exception) -> str:
        return unexpected_exception_reply(log, error)


def mx_factory(
    settings: SmtpSettings,
    handler: MxHandler,
    tls: ssl.SSLContext,
    *,
    loop: asyncio.AbstractEventLoop,
    limits: ConnectionLimits | None = None,
) -> Callable[[], IngressSMTP]:
    """Protocol factory for `loop.create_server`: STARTTLS offered, not required; no AUTH."""
    options = smtp_options(settings, loop)
    proxy, attributes = admission_setup(settings, "mx", limits)
    options.update(proxy)
    options.update(
        tls_context=tls,
        require_starttls=False,
        auth_required=False,
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    return ProtocolFactory(MxSMTP, handler, options, attributes)
