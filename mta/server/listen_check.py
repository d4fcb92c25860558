"""Before `scaisend serve` opens anything: can every configured listen address be bound?
A busy or unusable address ends the start with one line naming the config key."""

from __future__ import annotations

import contextlib
import socket

from config.checks import parse_hostport
from config.settings import Settings

LISTEN_KEYS = (
    ("http", "listen"),
    ("smtp", "submission_listen"),
    ("smtp", "smtps_listen"),
    ("smtp", "mx_listen"),
)


def configured_listens(settings: Settings) -> list[tuple[str, str]]:
    """("[section] key", address) of every listener the server opens ("" disables one)."""
    found = []
    for section, key in LISTEN_KEYS:
        address = getattr(getattr(settings, section), key)
        if address:
            found.append((f"[{section}] {key}", address))
    return found


def _probe(stack: contextlib.ExitStack, address: str) -> None:
    """Bind `address` as the server will (SO_REUSEADDR, no SO_REUSEPORT) and listen, kept
    open in `stack`: Linux lets two SO_REUSEADDR sockets bind one address until one listens,
    and so one address configured twice is caught as well."""
    host, port = parse_hostport(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = stack.enter_context(socket.socket(family, socket.SOCK_STREAM))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1)


def reason(exc: OSError) -> str:
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def unusable_listen(settings: Settings) -> str | None:
    """The one line to end the start with, or None when every address can be bound."""
    with contextlib.ExitStack() as stack:
        for key, address in configured_listens(settings):
            try:
                _probe(stack, address)
            except OSError as exc:
                return f"scaisend: cannot listen on {address} ({key}): {reason(exc)}"
    return None
