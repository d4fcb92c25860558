"""The connections webhook POSTs go over: one aiohttp session, kept alive and reused per
target, whose resolver checks every address of a target's host against the SSRF rules and
hands aiohttp only a checked one; TLS (SNI, certificate) and the Host header keep the name."""

from __future__ import annotations

import collections
import ipaddress
import socket
import ssl
import time

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from mta.core.dns import DnsError, Resolver
from mta.webhooks.guard import host_refusal, target_allowed

# RFC 6750 §3.1 error codes: a 400 or 403 naming one also means "fetch a new token".
TOKEN_ERRORS = (b"invalid_token", b"invalid_request", b"insufficient_scope")
TOKEN_ERROR_READ = 4096
MAX_ANSWER_READ = 65536
ERROR_LIMIT = 500


class TargetRefused(OSError):
    """The target's host or address is not allowed (or does not resolve)."""


class Answer(msgspec.Struct, frozen=True):
    """What one POST came to: the status (None when unanswered), why it failed, how long it
    took, and whether the target refused the OAuth access token."""

    status: int | None
    error: str | None
    seconds: float
    token_refused: bool = False
    body_start: bytes | None = None  # the answer's first bytes (up to 4 KB)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


class GuardedResolver(AbstractResolver):
    """A host name's addresses, every one of which must pass the rules; the first is used."""

    def __init__(self, resolver: Resolver, allow_private: bool) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self.pinned: collections.deque[tuple[str, str]] = collections.deque(maxlen=100)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.rstrip(".")
        try:
            addresses = await self._resolver.addresses(name)
        except DnsError as exc:
            raise TargetRefused(f"cannot resolve {name}: {exc}") from None
        if not addresses:
            raise TargetRefused(f"{name} has no address")
        for address in addresses:
            if not target_allowed(address, self._allow_private):
                raise TargetRefused(f"target address {address} is not allowed")
        address = addresses[0]
        self.pinned.append((name, address))  # (host, the address connected to), for tests
        kind = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [
            {
                "hostname": name,
                "host": address,
                "port": port,
                "family": kind,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


class WebhookClient:
    """POSTs to webhook targets over kept-alive connections, `max_connections` at most."""

    def __init__(
        self,
        resolver: Resolver,
        allow_private: bool,
        max_connections: int,
        timeout: float,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        self._allow_private = allow_private
        self._timeout = timeout
        self.resolver = GuardedResolver(resolver, allow_private)
        self._max_connections = max_connections
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:  # made on the running loop, at the first POST
            connector = aiohttp.TCPConnector(
                resolver=self.resolver,
                use_dns_cache=False,
                limit=self._max_connections,
                ssl=self._verify if self._verify is not None else True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=False,
                trust_env=False,
            )
        return self._session

    def refusal(self, url: str) -> str | None:
        """Why `url`'s host may not be posted to before any DNS (a literal or disguised
        address); names are checked by the resolver when a connection is opened."""
        host = URL(url).raw_host or ""
        refusal = host_refusal(host, self._allow_private)
        literal = literal_address(host)
        if (
            refusal is None
            and literal is not None
            and not target_allowed(literal, self._allow_private)
        ):
            refusal = f"target address {literal} is not allowed"
        return refusal

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], oauth: bool = False
    ) -> Answer:
        """One POST, never following a redirect; with `oauth`, whether the answer refuses
        the access token is read too."""
        started = time.monotonic()
        refusal = self.refusal(url)
        if refusal is not None:
            return Answer(None, f"TargetRefused: {refusal}"[:ERROR_LIMIT], 0.0)
        try:
            async with self._open().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                start = await drained(response)
                refused = oauth and refuses_token(
                    response.status, response.headers.get("www-authenticate", ""), start
                )
                took = time.monotonic() - started
                return Answer(response.status, None, took, refused, start)
        except TimeoutError:
            return Answer(None, f"no answer within {self._timeout:g} s", self._timeout)
        except (aiohttp.ClientError, OSError) as exc:
            return Answer(None, describe(exc)[:ERROR_LIMIT], time.monotonic() - started)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def describe(exc: BaseException) -> str:
    """What the delivery log says of a POST that got no answer: the guard's refusal as it gave
    it, else the error's class and text."""
    cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
    if isinstance(cause, TargetRefused):
        return f"TargetRefused: {cause}"
    return f"{exc.__class__.__name__}: {exc}"


async def drained(response: aiohttp.ClientResponse) -> bytes:
    """Read the answer's body, so that its connection can carry the next POST, and give back
    its first 4 KB; a body over 64 KB is not read to its end (that connection is closed)."""
    start, seen = b"", 0
    async for chunk in response.content.iter_chunked(16384):
        if len(start) < TOKEN_ERROR_READ:
            start += chunk[: TOKEN_ERROR_READ - len(start)]
        seen += len(chunk)
        if seen > MAX_ANSWER_READ:
            break
    return start


def refuses_token(status: int, www_authenticate: str, body_start: bytes) -> bool:
    """A 401, or a 400 / 403 naming an RFC 6750 error code in WWW-Authenticate or in the
    start of the body."""
    if status == 401:
        return True
    if status not in (400, 403):
        return False
    seen = www_authenticate.encode() + body_start
    return any(code in seen for code in TOKEN_ERRORS)
