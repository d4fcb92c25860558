"""One aiosmtpd protocol per connection, cheaply: aiosmtpd's SMTP.__init__ introspects the
class and the handler on every call (about 0.4 ms); here it runs once, for a template whose
settings each new connection's protocol takes over, with its own stream reader."""

from __future__ import annotations

import asyncio
import collections
import secrets
import types
from collections.abc import Callable, Mapping
from typing import Any

from aiosmtpd.smtp import SMTP

from mta.listeners.aiosmtpd_private import AuthMechanism, client_connected_callback
from mta.listeners.protocol import READ_LIMIT, IngressSMTP


def _stream_attributes(loop: asyncio.AbstractEventLoop) -> frozenset[str]:
    """What asyncio.StreamReaderProtocol keeps per connection (never shared)."""
    probe = asyncio.StreamReaderProtocol(
        asyncio.StreamReader(loop=loop), client_connected_cb=lambda r, w: None, loop=loop
    )
    return frozenset(vars(probe))


Binder = Callable[[SMTP], Any]


class ProtocolFactory:
    """A `protocol_factory` for loop.create_server, building `cls(handler, **options)`."""

    def __init__(
        self,
        cls: type[IngressSMTP],
        handler: object,
        options: dict[str, Any],
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """`attributes`: set on every protocol besides aiosmtpd's options (the limits)."""
        self._cls = cls
        self._loop: asyncio.AbstractEventLoop = options["loop"]
        self._template = cls(handler, **options)
        for name, value in (attributes or {}).items():
            setattr(self._template, name, value)
        per_connection = _stream_attributes(self._loop) | {"session_id"}
        settings = {
            name: value for name, value in vars(self._template).items()
            if name not in per_connection
        }  # fmt: skip
        # Worked out once: how to rebind the settings holding the template's own methods
        # (aiosmtpd's command and AUTH tables, see aiosmtpd_private); every other setting is
        # shared as it is.
        binders = {name: self._binder(value) for name, value in settings.items()}
        self._own = [(name, binder) for name, binder in binders.items() if binder is not None]
        self._shared = {name: settings[name] for name, binder in binders.items() if binder is None}

    def __call__(self) -> IngressSMTP:
        protocol = self._cls.__new__(self._cls)
        reader = asyncio.StreamReader(loop=self._loop, limit=READ_LIMIT)
        connected = client_connected_callback(protocol)
        asyncio.StreamReaderProtocol.__init__(
            protocol, reader, client_connected_cb=connected, loop=self._loop
        )
        protocol.__dict__.update(self._shared)
        for name, binder in self._own:
            protocol.__dict__[name] = binder(protocol)
        # aiosmtpd keeps these on the class and grows them at every EHLO; each connection
        # needs its own, or the MAIL line limit would creep up with every session.
        protocol.command_size_limits = collections.defaultdict(_command_size_limit)
        protocol.session_id = secrets.token_hex(6)
        return protocol

    def _binder(self, value: Any) -> Binder | None:
        """How to make `value` for one protocol: the template's own bound methods rebound to
        it, also inside AUTH entries and tables; None when `value` is shared as it is."""
        if isinstance(value, types.MethodType) and value.__self__ is self._template:
            function = value.__func__
            return lambda protocol: types.MethodType(function, protocol)
        if isinstance(value, AuthMechanism):
            method = self._binder(value.method)
            builtin = value.is_builtin
            return None if method is None else lambda p: AuthMechanism(method(p), builtin)
        if isinstance(value, dict):
            inner = {key: b for key, item in value.items() if (b := self._binder(item))}
            rest = {key: item for key, item in value.items() if key not in inner}
            if not inner:
                return None  # aiosmtpd only reads its tables once built
            return lambda p: {**rest, **{key: bind(p) for key, bind in inner.items()}}
        return None


def _command_size_limit() -> int:
    return SMTP.command_size_limit
