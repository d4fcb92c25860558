"""The aiosmtpd internals listed in mta.listeners.aiosmtpd_private still exist with the shape we
rely on (parameters, attributes, where aiosmtpd itself uses them), checked on real protocols; an
aiosmtpd upgrade that breaks one fails here rather than in a listener."""

from __future__ import annotations

import asyncio
import inspect
import ssl
import types
from asyncio import sslproto
from collections.abc import Callable
from pathlib import Path

import pytest
from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from mta.listeners.admission import AdmittedSMTP
from mta.listeners.aiosmtpd_private import (
    INTERNALS,
    SESSION_COROUTINE,
    AuthMechanism,
    Internal,
    adopt_tls,
    client_connected_callback,
    client_stream,
    take_buffered,
)
from mta.listeners.mx import MxSMTP
from mta.listeners.protocol import IngressSMTP
from tests.unit.mta.listeners.raw import proxy_v1
from tests.unit.mta.listeners.support import make_tls

METHODS = [internal for internal in INTERNALS if internal.parameters is not None]
USES = [(internal.name, caller) for internal in INTERNALS for caller in internal.used_by]


class Handler:
    """A handler with one AUTH mechanism of its own and a PROXY hook that records what it saw
    of the protocol's stream, then refuses the connection."""

    def __init__(self) -> None:
        self.streams: list[asyncio.StreamReader] = []
        self.buffered = b""

    async def auth_CUSTOM(self, server: SMTP, args: list[str]) -> AuthResult:
        return AuthResult(success=False)

    async def handle_PROXY(
        self, server: SMTP, session: Session, envelope: Envelope, proxy_data: ProxyData
    ) -> bool:
        self.streams.append(client_stream(server))
        for _ in range(100):  # what follows the header may arrive in a later segment
            self.buffered += take_buffered(server)
            if self.buffered.endswith(b"\r\n"):
                break
            await asyncio.sleep(0.01)
        return False


def code_names(function: Callable[..., object]) -> set[str]:
    """Every attribute and global name `function`'s code (nested code included) refers to."""
    pending = [inspect.unwrap(function).__code__]
    names: set[str] = set()
    while pending:
        code = pending.pop()
        names.update(code.co_names)
        pending.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return names


@pytest.mark.parametrize("internal", METHODS, ids=lambda internal: internal.name)
def test_methods_keep_the_parameters_we_override_or_call(internal: Internal) -> None:
    method = getattr(SMTP, internal.name)
    assert callable(method)
    assert tuple(inspect.signature(method).parameters) == internal.parameters


@pytest.mark.parametrize(("name", "caller"), USES, ids=[f"{n}-in-{c}" for n, c in USES])
def test_aiosmtpd_still_uses_them_where_we_count_on_it(name: str, caller: str) -> None:
    assert name in code_names(getattr(SMTP, caller))


async def test_a_new_protocol_has_the_tables_and_tls_state_we_read() -> None:
    handler = Handler()
    protocol = SMTP(handler, hostname="internals.test", loop=asyncio.get_running_loop())
    assert protocol._tls_protocol is None and protocol._original_transport is None
    assert AuthMechanism._fields == ("method", "is_builtin")
    mechanisms = protocol._auth_methods
    assert all(isinstance(entry, AuthMechanism) for entry in mechanisms.values())
    assert mechanisms["PLAIN"].is_builtin and mechanisms["PLAIN"].method.__self__ is protocol
    assert mechanisms["CUSTOM"] == AuthMechanism(handler.auth_CUSTOM, False)
    assert protocol._smtp_methods["HELO"] == protocol.smtp_HELO
    connected = client_connected_callback(protocol)
    assert connected == protocol._cb_client_connected
    assert tuple(inspect.signature(connected).parameters) == ("reader", "writer")


async def test_a_connected_protocol_reads_from_the_stream_we_take_bytes_from() -> None:
    loop = asyncio.get_running_loop()
    handler = Handler()
    protocols: list[SMTP] = []

    def make() -> SMTP:
        protocol = SMTP(handler, hostname="internals.test", proxy_protocol_timeout=5, loop=loop)
        protocols.append(protocol)
        return protocol

    server = await loop.create_server(make, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(proxy_v1("192.0.2.10") + b"EHLO early.example\r\n")
        await writer.drain()
        # handle_PROXY refused: closed without a greeting, the EHLO taken from the stream
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert handler.buffered == b"EHLO early.example\r\n"
    assert isinstance(handler.streams[0], asyncio.StreamReader)
    assert handler.streams[0] is protocols[0]._reader


async def test_tls_started_by_us_is_recorded_where_aiosmtpd_looks(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    context: ssl.SSLContext = make_tls(tmp_path)
    protocol = SMTP(Handler(), hostname="internals.test", loop=loop)
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        raw = writer.transport
        tls = sslproto.SSLProtocol(loop, protocol, context, loop.create_future(), server_side=True)
        above = adopt_tls(protocol, tls, raw)
        assert protocol._tls_protocol is tls and protocol._original_transport is raw
        assert isinstance(above, asyncio.Transport) and above is tls._app_transport
        above.close()  # TLS never started on it: only marks it closed
        writer.close()
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("cls", [AdmittedSMTP, IngressSMTP, MxSMTP], ids=lambda c: c.__name__)
async def test_our_own_underscore_names_are_not_aiosmtpds(cls: type[SMTP]) -> None:
    """A name of ours that aiosmtpd starts using would silently replace its own."""
    protocol = SMTP(Handler(), hostname="internals.test", loop=asyncio.get_running_loop())
    theirs = set(dir(SMTP)) | set(vars(protocol))
    listed = {internal.name for internal in INTERNALS}
    ours = {name for name in vars(cls) if name.startswith("_") and not name.startswith("__")}
    assert (ours & theirs) <= listed


def test_session_tasks_are_found_by_the_name_of_their_coroutine() -> None:
    """The server's stop waits for tasks whose coroutine is named so (mta/server/runtime.py)."""
    assert SMTP._handle_client.__qualname__.endswith(SESSION_COROUTINE)
