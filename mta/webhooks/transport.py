"""Webhook HTTP transport with pinned addresses: the URL's host is resolved once, every address
is checked against the SSRF rules, and the TCP connection goes to that checked address; TLS SNI,
certificate verification and the Host header still use the host name (no DNS rebinding).
"""

from __future__ import annotations

import contextvars
import ipaddress
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from mta.core.dns import DnsError, Resolver
from mta.webhooks.guard import host_refusal, target_allowed


class TargetRefused(httpx.TransportError):
    """The webhook target's host or address is not allowed (or does not resolve)."""


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to the address pinned for the host in the current task, never resolving."""

    def __init__(self, pins: contextvars.ContextVar[tuple[str, str] | None]) -> None:
        self._pins = pins
        self._inner = httpcore.AnyIOBackend()
        self.connected: list[tuple[str, str, int]] = []  # (host, address, port), for tests

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pin = self._pins.get()
        if pin is None or pin[0] != host:
            raise httpcore.ConnectError(f"no pinned address for {host}")
        self.connected.append((host, pin[1], port))
        del self.connected[:-100]
        return await self._inner.connect_tcp(
            pin[1], port, timeout, local_address, socket_options=socket_options
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        resolver: Resolver,
        allow_private: bool,
        *,
        verify: ssl.SSLContext | None = None,
        max_connections: int = 100,
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._pins: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
            "webhook_pin", default=None
        )
        self.backend = PinnedBackend(self._pins)
        # httpx's own transport maps requests and responses; only its pool is ours, built
        # with the pinning backend (httpx has no public hook for a network backend).
        self._http = httpx.AsyncHTTPTransport(trust_env=False)
        self._http._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(),
            max_connections=max_connections,
            network_backend=self.backend,
        )

    async def pin(self, host: str) -> str:
        """The one address to connect to for `host`, after every address passed the rules."""
        refusal = host_refusal(host, self._allow_private)
        if refusal is not None:
            raise TargetRefused(refusal)
        name = host.strip("[]").rstrip(".")
        try:
            addresses = [str(ipaddress.ip_address(name))]
        except ValueError:
            try:
                addresses = await self._resolver.addresses(name)
            except DnsError as exc:
                raise TargetRefused(f"cannot resolve {name}: {exc}") from None
        if not addresses:
            raise TargetRefused(f"{name} has no address")
        for address in addresses:
            if not target_allowed(address, self._allow_private):
                raise TargetRefused(f"target address {address} is not allowed")
        return addresses[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.raw_host.decode("ascii")  # IDNA-encoded, as httpcore connects to
        address = await self.pin(host)
        token = self._pins.set((host, address))
        try:
            return await self._http.handle_async_request(request)
        finally:
            self._pins.reset(token)

    async def aclose(self) -> None:
        await self._http.aclose()
