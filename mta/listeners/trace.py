"""What an SMTP session tells the intake for the Received header: the client's EHLO name and
address, our hostname, ESMTP or not, AUTH, and the negotiated TLS version and cipher."""

from __future__ import annotations

from aiosmtpd.smtp import Session

from mta.core.model import SessionTrace
from mta.listeners.protocol import IngressSMTP


def session_trace(server: IngressSMTP, session: Session) -> SessionTrace:
    """The trace of `session`; the TLS fields stay empty on a plain-text connection."""
    transport = server.transport
    tls = transport.get_extra_info("ssl_object") if transport is not None else None
    cipher = tls.cipher() if tls is not None else None
    return SessionTrace(
        helo=session.host_name or "",
        client_ip=server.client_ip,
        hostname=server.hostname,
        esmtp=bool(session.extended_smtp),
        authenticated=bool(session.authenticated),
        tls_version=(tls.version() or "") if tls is not None else "",
        tls_cipher=cipher[0] if cipher else "",
        tls_bits=cipher[2] if cipher else 0,
    )
