"""The Received header we prepend to mail accepted over SMTP (RFC 5321 4.4), in Postfix's
layout: the client's EHLO name and address, TLS details, our hostname, protocol, id, date."""

from __future__ import annotations

import email.utils
import re
from datetime import datetime

from mta.core.model import SessionTrace

PRODUCT = "ScaiSend"
FOLD = "\r\n\t"
MAX_HELO = 255
# The EHLO argument is the client's word: anything but host-name and address-literal
# characters could break the header's comment or date syntax (`(`, `)`, `;`).
UNSAFE_HELO = re.compile(r"[^A-Za-z0-9.:_\-\[\]]")


def helo_text(helo: str) -> str:
    """The client's EHLO name made safe for the header; "unknown" when it gave none."""
    cleaned = UNSAFE_HELO.sub("?", helo.strip())[:MAX_HELO]
    return cleaned or "unknown"


def address_text(client_ip: str) -> str:
    """The client's address as Postfix writes it: `[192.0.2.1]`, `[IPv6:2001:db8::1]`."""
    if not client_ip:
        return "unknown"
    return f"[IPv6:{client_ip}]" if ":" in client_ip else f"[{client_ip}]"


def protocol(trace: SessionTrace) -> str:
    """RFC 3848's `with` value: SMTP or ESMTP, plus S under TLS and A after AUTH."""
    name = "ESMTP" if trace.esmtp else "SMTP"
    return name + ("S" if trace.tls_version else "") + ("A" if trace.authenticated else "")


def received_header(trace: SessionTrace, message_id: str, when: datetime) -> str:
    """The whole folded header field, without its final CRLF; `when` must be time-zone aware.

    We do no reverse DNS lookups, so the verified-name slot reads "unknown", as in Postfix.
    """
    lines = [f"Received: from {helo_text(trace.helo)} (unknown {address_text(trace.client_ip)})"]
    if trace.tls_version:
        bits = f"{trace.tls_bits}/{trace.tls_bits} bits"
        lines.append(f"(using {trace.tls_version} with cipher {trace.tls_cipher} ({bits}))")
    lines.append(f"by {trace.hostname} ({PRODUCT}) with {protocol(trace)} id {message_id};")
    lines.append(email.utils.format_datetime(when))
    return FOLD.join(lines)
