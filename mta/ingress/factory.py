"""One aiosmtpd protocol per connection, cheaply: aiosmtpd's SMTP.__init__ introspects the
class and the handler on every call (about 0.4 ms); here it runs once, for a template whose
settings each new connection's protocol takes over, with its own stream reader."""

from __future__ import annotations

import asyncio
import secrets
import types
from collections.abc import Mapping
from typing import Any

from aiosmtpd.smtp import SMTP, _AuthMechAttr

from mta.ingress.protocol import READ_LIMIT, IngressSMTP


def _stream_attributes(loop: asyncio.AbstractEventLoop) -> frozenset[str]:
    """What asyncio.StreamReaderProtocol keeps per connection (never shared)."""
    probe = asyncio.StreamReaderProtocol(
        asyncio.StreamReader(loop=loop), client_connected_cb=lambda r, w: None, loop=loop
    )
    return frozenset(vars(probe))


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
        self._settings = {
            name: value for name, value in vars(self._template).items()
            if name not in per_connection
        }  # fmt: skip

    def __call__(self) -> IngressSMTP:
        protocol = self._cls.__new__(self._cls)
        reader = asyncio.StreamReader(loop=self._loop, limit=READ_LIMIT)
        asyncio.StreamReaderProtocol.__init__(
            protocol, reader, client_connected_cb=protocol._cb_client_connected, loop=self._loop
        )
        for name, value in self._settings.items():
            protocol.__dict__[name] = self._rebind(value, protocol)
        protocol.session_id = secrets.token_hex(6)
        return protocol

    def _rebind(self, value: Any, protocol: SMTP) -> Any:
        """The template's own bound methods (in the hook tables) rebound to `protocol`."""
        if isinstance(value, types.MethodType) and value.__self__ is self._template:
            return types.MethodType(value.__func__, protocol)
        if isinstance(value, _AuthMechAttr):
            return _AuthMechAttr(self._rebind(value.method, protocol), value.is_builtin)
        if isinstance(value, dict):
            return {key: self._rebind(item, protocol) for key, item in value.items()}
        return value
