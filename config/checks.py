"""Checks of single setting values the sections share: "host:port" addresses, counts of at
least one, CIDR networks, and the keys that seal secrets."""

from __future__ import annotations

import base64
import binascii
import ipaddress


def parse_hostport(value: str, default_port: int | None = None) -> tuple[str, int]:
    """Split "host:port", "[v6]:port" or (with a default port) a bare host or IP."""
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad address {value!r}")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        if not port_text:
            raise ValueError(f"bad address {value!r}: empty port")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"bad address {value!r}: no host")
    if text.startswith("[") and text.endswith("]:"):
        raise ValueError(f"bad address {value!r}: empty port")
    if not port_text:
        if default_port is None:
            raise ValueError(f"bad address {value!r}: expected host:port")
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port in {value!r}")
    return host, int(port_text)


def check_listen(key: str, value: str) -> None:
    try:
        parse_hostport(value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def at_least_one(settings: object, *keys: str) -> None:
    """Each of `keys` of `settings` is at least 1 (or None, where None means "not set")."""
    for key in keys:
        value = getattr(settings, key)
        if value is not None and value < 1:
            raise ValueError(f"{key}: must be at least 1")


def check_networks(key: str, networks: list[str]) -> None:
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"{key}: {network!r} is not a CIDR network") from None


def is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32 and len(key) == 44
    except (ValueError, binascii.Error):
        return False
