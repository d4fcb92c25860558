"""The SSRF guard of every URL the webhook sender posts to (webhook targets, OAuth token URLs):
the URL policy checked when it is saved, and the address rule every resolved address must pass.

`target_allowed` is the pure check every resolved address of a webhook URL must pass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import idna

from mta.core.errors import ValidationError

# Our own deny list on top of `is_global` (CPython's tables changed across patch releases).
DENIED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4", "::/96", "::1/128", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fc00::/7",
        "fe80::/10", "ff00::/8",
    )
)  # fmt: skip
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# An IPv4 address in a legacy spelling (2130706433, 0x7f000001, 0177.0.0.1, 127.1):
# resolvers and libc read these as addresses, so they are never taken as host names.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


def target_allowed(address: str, allow_private: bool) -> bool:
    """False for loopback, private, link-local, CGNAT, metadata and their IPv6 disguises."""
    if allow_private:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not target_allowed(str(embedded), False):
            return False
        if ip.teredo and not ip.teredo[0].is_global:
            return False
    if any(ip in net for net in DENIED if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def host_refusal(host: str, allow_private: bool) -> str | None:
    """Why a URL host may not be used as a webhook target by its spelling alone, or None.
    Addresses it resolves to are judged separately by `target_allowed`."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        return "webhook url must name a host"
    if "%" in name:
        return "webhook url must not use an IPv6 zone"
    if allow_private:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if LEGACY_IPV4.match(name):
            return f"webhook host {host!r} is an IP address in a non-standard spelling"
        if name == "localhost" or name.endswith(".localhost"):
            return "webhook host must not be localhost"
        return None
    if not target_allowed(name, False):
        return f"webhook target address {name} is not allowed"
    return None


def normal_host(host: str) -> str:
    """The host as clients connect to it: an IPv6 literal as written, a name mapped and
    encoded by IDNA (UTS 46, as browsers do), so `①②⑦.0.0.1` is 127.0.0.1 and `bücher.de`
    is `xn--bcher-kva.de`. A ValueError says why a name does not survive IDNA."""
    if host.startswith("[") or ":" in host:
        return host
    try:
        if host.isascii() and "_" in host:  # DNS has such names (not IDNA): kept as written
            idna.encode(host.replace("_", "u"), uts46=True)
            return host.lower()
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError) as exc:
        raise ValueError(f"webhook host {host!r} is not a valid host name: {exc}") from None


def check_url(
    url: str,
    allow_private: bool,
    ports: Sequence[int] = (80, 443, 8080, 8443),
    field: str = "url",
) -> str:
    """`url` when it may be posted to (a webhook target or an OAuth token URL), with its host
    in its IDNA form (`normal_host`), else a 400 naming `field`."""
    name = "webhook url" if field == "url" else field
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError(f"{name} is not a valid URL", field=field) from None
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise ValidationError(f"{name} must use https", field=field)
    if not parts.hostname or parts.username or parts.password:
        raise ValidationError(f"{name} must name a host and no credentials", field=field)
    try:
        host = normal_host(parts.hostname)
    except ValueError as exc:
        raise ValidationError(str(exc), field=field) from None
    refusal = host_refusal(host, allow_private)
    if refusal is not None:
        raise ValidationError(refusal, field=field)
    if not allow_private and port is not None and port not in ports:
        raise ValidationError(f"{name} port {port} is not allowed", field=field)
    if host == parts.hostname:
        return url
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))
