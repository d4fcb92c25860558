"""Starting and stopping the three SMTP listeners (submission, implicit TLS, MX) on the running
event loop with `loop.create_server`; an empty listen address disables a listener.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import NamedTuple

from aiosmtpd.smtp import SMTP

from config.checks import parse_hostport
from config.settings import SmtpSettings
from mta.core.clock import Clock, SystemClock
from mta.core.metrics import Metrics
from mta.listeners.limits import AuthFailures, ConnectionLimits, parse_networks
from mta.listeners.mx import MxHandler, mx_factory
from mta.listeners.ports import InboundSink, KeyAuthenticator, RelaySink, SubmissionSink
from mta.listeners.protocol import IngressSMTP
from mta.listeners.submission import SubmissionHandler, submission_factory

log = logging.getLogger(__name__)


class Listener(NamedTuple):
    name: str
    listen: str
    factory: Callable[[], SMTP]
    implicit_tls: ssl.SSLContext | None  # set: the socket speaks TLS from the first byte


class ListenerControls:
    """What every listener of a set shares and a reload may change: the connection limits,
    the AUTH failure counts and who may relay through the MX port."""

    def __init__(
        self,
        settings: SmtpSettings,
        inbound: InboundSink,
        relay: RelaySink | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.limits = ConnectionLimits.from_settings(settings)
        self.failures = AuthFailures.from_settings(settings, (clock or SystemClock()).monotonic)
        self.mx = MxHandler(inbound, relay, parse_networks(settings.relay_networks))

    def apply_settings(self, settings: SmtpSettings, relay: RelaySink | None) -> None:
        """A reload: new sessions get the new limits; open sessions are not dropped."""
        self.limits.apply_settings(settings)
        self.failures.apply_settings(settings)
        self.mx.apply_settings(relay, parse_networks(settings.relay_networks))


async def start_listeners(
    settings: SmtpSettings,
    tls: ssl.SSLContext,
    submissions: SubmissionSink,
    keys: KeyAuthenticator,
    inbound: InboundSink,
    relay: RelaySink | None = None,
    metrics: Metrics | None = None,
    controls: ListenerControls | None = None,
    reuse_port: bool = False,
) -> list[asyncio.base_events.Server]:
    """Start every configured listener; on failure close the ones already started.
    `controls` (built here when not given) is how a reload reaches the running listeners;
    `reuse_port` (workers) lets every worker bind the same ports (SO_REUSEPORT)."""
    loop = asyncio.get_running_loop()
    servers: list[asyncio.base_events.Server] = []
    shared = controls or ListenerControls(settings, inbound, relay)
    try:
        for listener in _plan(settings, tls, submissions, keys, shared, loop):
            if listener.listen:
                servers.append(await _serve(loop, counted(listener, metrics), reuse_port))
    except BaseException:
        await close_listeners(servers)
        raise
    return servers


def _plan(
    settings: SmtpSettings,
    tls: ssl.SSLContext,
    submissions: SubmissionSink,
    keys: KeyAuthenticator,
    controls: ListenerControls,
    loop: asyncio.AbstractEventLoop,
) -> list[Listener]:
    """The three listeners with their protocol factories (disabled ones have listen == ""),
    sharing one set of connection limits and AUTH failure counts."""
    limits, mx_handler = controls.limits, controls.mx
    handler = SubmissionHandler(submissions, keys, controls.failures)
    # Behind a PROXY header the socket is plain TCP; the protocol starts TLS after the header.
    smtps_tls = None if "smtps" in settings.proxy_protocol else tls
    return [
        Listener(
            "submission",
            settings.submission_listen,
            submission_factory(
                settings, handler, tls, implicit_tls=False, loop=loop, limits=limits
            ),
            None,
        ),
        Listener(
            "smtps",
            settings.smtps_listen,
            submission_factory(settings, handler, tls, implicit_tls=True, loop=loop, limits=limits),
            smtps_tls,
        ),
        Listener(
            "mx",
            settings.mx_listen,
            mx_factory(settings, mx_handler, tls, loop=loop, limits=limits),
            None,
        ),
    ]


async def close_listeners(servers: list[asyncio.base_events.Server]) -> None:
    """Stop accepting connections on every server and wait until they are closed."""
    for server in servers:
        server.close()
    for server in servers:
        await server.wait_closed()


def bound_port(server: asyncio.base_events.Server) -> int:
    """The TCP port a server listens on (useful when it was started on port 0)."""
    return int(server.sockets[0].getsockname()[1])


def listen_address(value: str) -> tuple[str, int]:
    """Split a listen address; unlike `parse_hostport` it accepts port 0 (any free port)."""
    host, sep, port = value.rpartition(":")
    if sep and port == "0":
        return parse_hostport(f"{host}:1")[0], 0
    return parse_hostport(value)


def counted(listener: Listener, metrics: Metrics | None) -> Listener:
    """The listener with a factory that counts its sessions and hands each protocol the
    metrics (to count rejections); unchanged without metrics."""
    if metrics is None:
        return listener
    factory, name = listener.factory, listener.name

    def make() -> SMTP:
        protocol = factory()
        if isinstance(protocol, IngressSMTP):
            protocol.metrics = metrics
        metrics.smtp_session(name)
        return protocol

    return listener._replace(factory=make)


async def _serve(
    loop: asyncio.AbstractEventLoop, listener: Listener, reuse_port: bool = False
) -> asyncio.base_events.Server:
    host, port = listen_address(listener.listen)
    server = await loop.create_server(
        listener.factory, host, port, ssl=listener.implicit_tls, reuse_port=reuse_port or None
    )
    log.info("smtp %s listening on %s port %d", listener.name, host, bound_port(server))
    return server
