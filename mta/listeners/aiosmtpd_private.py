"""The aiosmtpd internals the SMTP listeners rely on, all in one place; everything else uses its
public hooks. Tested with aiosmtpd 1.4.x (the range pinned in pyproject.toml); the unit test
test_aiosmtpd_internals.py fails when one of them disappears or changes shape. Each, and why:

Methods of aiosmtpd.smtp.SMTP that our subclasses override (no public hook does the same):
- `_handle_client()`: the session task; we admit the client (limits, trusted proxy) before it runs.
- `_getaddr(arg)`: the MAIL/RCPT path parser; a fast path for `<local@domain>` saves 0.14 ms.
- `_reset_timeout(duration)`: the per-command timer, kept within the whole-session deadline.
- `_timeout_cb()`: the timer's expiry; we write a 421 first where aiosmtpd closes silently.
- `_create_session()`: documented as overridable; keeps the PROXY header's data across STARTTLS.
- `_create_envelope()`: documented as overridable; the MX envelope, and the reset after DATA.
Attributes reached through the functions below:
- `_cb_client_connected`: sets `_reader`; ProtocolFactory builds protocols without SMTP.__init__.
- `_reader`: the client's byte stream; DATA is read from it in bulk, not line by line.
- `_tls_protocol`, `_original_transport`: aiosmtpd's "TLS is on" (EHLO, AUTH, STARTTLS checks,
  connection_lost); set when an implicit-TLS listener starts TLS after the PROXY header.
- `_auth_methods` (of `_AuthMechAttr`), `_smtp_methods`: SMTP.__init__'s tables of bound
  methods, which ProtocolFactory rebinds to each connection's protocol.
asyncio's own, touched as aiosmtpd's smtp_STARTTLS does: `SSLProtocol._app_transport` (the
transport above TLS) and `StreamReader._buffer` (the bytes read past a PROXY header).
mta.server.runtime counts open sessions by `SESSION_COROUTINE`, the `_handle_client` task's name.
"""

from __future__ import annotations

import asyncio
from asyncio import sslproto
from collections.abc import Callable
from typing import Final, NamedTuple

from aiosmtpd.smtp import SMTP, _AuthMechAttr

# An entry of SMTP._auth_methods: (method, is_builtin).
AuthMechanism: Final = _AuthMechAttr
# What the coroutine of each session's task is called (its __qualname__ ends so).
SESSION_COROUTINE: Final = "._handle_client"


class Internal(NamedTuple):
    """One private name of aiosmtpd.smtp.SMTP we depend on."""

    name: str
    # A method's parameters as we override or call it; None for an attribute.
    parameters: tuple[str, ...] | None
    # SMTP methods whose code names it: where aiosmtpd calls our override or reads our value.
    used_by: tuple[str, ...]


INTERNALS: tuple[Internal, ...] = (
    Internal("_handle_client", ("self",), ("connection_made",)),
    Internal("_getaddr", ("self", "arg"), ("smtp_MAIL", "smtp_RCPT")),
    Internal("_reset_timeout", ("self", "duration"), ("connection_made", "_handle_client")),
    Internal("_timeout_cb", ("self",), ("_reset_timeout",)),
    Internal("_create_session", ("self",), ("connection_made",)),
    Internal("_create_envelope", ("self",), ("_set_post_data_state",)),
    Internal("_cb_client_connected", ("self", "reader", "writer"), ("__init__",)),
    Internal("_reader", None, ("_cb_client_connected", "_handle_client")),
    Internal("_tls_protocol", None, ("connection_made", "_handle_client", "smtp_AUTH")),
    Internal("_original_transport", None, ("connection_made", "connection_lost")),
    Internal("_auth_methods", None, ("__init__", "smtp_EHLO", "smtp_AUTH")),
    Internal("_smtp_methods", None, ("__init__", "_handle_client")),
)

ClientConnected = Callable[[asyncio.StreamReader, asyncio.StreamWriter], None]


def client_connected_callback(protocol: SMTP) -> ClientConnected:
    """What SMTP.__init__ hands asyncio.StreamReaderProtocol as `client_connected_cb`."""
    return protocol._cb_client_connected


def client_stream(protocol: SMTP) -> asyncio.StreamReader:
    """The stream aiosmtpd reads the client's commands from (the same after STARTTLS)."""
    return protocol._reader


def take_buffered(protocol: SMTP) -> bytes:
    """The bytes received but not yet read from the client's stream, now removed from it."""
    buffer: bytearray = protocol._reader._buffer  # type: ignore[attr-defined]
    pending = bytes(buffer)
    buffer.clear()
    return pending


def adopt_tls(
    protocol: SMTP, tls: sslproto.SSLProtocol, raw: asyncio.BaseTransport
) -> asyncio.BaseTransport:
    """Record, as smtp_STARTTLS does, that `protocol` now runs over `tls` on top of `raw`
    (aiosmtpd's connection_made then starts a new session); the transport above TLS."""
    protocol._tls_protocol = tls
    protocol._original_transport = raw
    return tls._app_transport
