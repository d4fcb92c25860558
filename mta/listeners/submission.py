"""The SMTP submission handler (587 STARTTLS, 465 implicit TLS): AUTH PLAIN/LOGIN with an API key
(user name `apikey`, scope `mail.send`), then MAIL/RCPT/DATA handed to the intake pipeline.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
from collections.abc import Callable

from aiosmtpd.proxy_protocol import ProxyData
from aiosmtpd.smtp import AuthResult, Envelope, Session

from config.settings import ListenerName, SmtpSettings
from mta.core.errors import AuthenticationError
from mta.listeners.admission import admission_setup
from mta.listeners.factory import ProtocolFactory
from mta.listeners.limits import TOO_MANY_AUTH_FAILURES, AuthFailures, ConnectionLimits
from mta.listeners.ports import KeyAuthenticator, SubmissionSink
from mta.listeners.protocol import (
    AUTH_REQUIRED,
    ENCRYPTION_REQUIRED,
    IngressSMTP,
    error_reply,
    internal_error,
    is_encrypted,
    printable,
    reverse_path,
    smtp_options,
    unexpected_exception_reply,
)
from mta.listeners.trace import session_trace
from mta.services.identity import Principal

log = logging.getLogger(__name__)

USERNAME = b"apikey"
REQUIRED_SCOPE = "mail.send"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_TEMPFAIL = "454 4.7.0 Temporary authentication failure"


class SubmissionHandler:
    """aiosmtpd handler for the submission ports, shared by all their connections; its one
    state is the listener set's AUTH failure counts (`failures`).

    Its `auth_PLAIN`/`auth_LOGIN` replace aiosmtpd's builtins (whose credential check is sync).
    It enforces AUTH itself in `handle_MAIL` too, since the implicit-TLS port cannot use
    aiosmtpd's `auth_required` without also disabling its TLS check (see `submission_factory`).
    """

    def __init__(
        self, sink: SubmissionSink, keys: KeyAuthenticator, failures: AuthFailures | None = None
    ) -> None:
        self._sink = sink
        self._keys = keys
        if failures is None:
            failures = AuthFailures.from_settings(SmtpSettings())
        self._failures = failures

    async def auth_PLAIN(self, server: IngressSMTP, args: list[str]) -> AuthResult:
        refusal = await self._precheck(server)
        if refusal is not None:
            return refusal
        blob = await _client_response(server, args, "")
        if blob is None:
            return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")  # authzid NUL authcid NUL password (RFC 4616)
        if len(parts) != 3:
            return await self._refused(server, "PLAIN", "malformed credentials")
        if parts[0] and parts[0] != parts[1]:  # nobody may act for another identity
            return await self._refused(server, "PLAIN", "authorization identity differs")
        return await self._check(server, "PLAIN", parts[1], parts[2])

    async def auth_LOGIN(self, server: IngressSMTP, args: list[str]) -> AuthResult:
        refusal = await self._precheck(server)
        if refusal is not None:
            return refusal
        login = await _client_response(server, args, "Username:")
        if login is None:
            return AuthResult(success=False, handled=True)
        password = await _client_response(server, [args[0]], "Password:")
        if password is None:
            return AuthResult(success=False, handled=True)
        return await self._check(server, "LOGIN", login, password)

    async def _check(
        self, server: IngressSMTP, mechanism: str, login: bytes, password: bytes
    ) -> AuthResult:
        """Every refusal looks the same to the client; the log says why, never the password."""
        if login != USERNAME:
            return await self._refused(server, mechanism, "user name is not apikey")
        try:
            principal = await self._keys.authenticate(password.decode("utf-8"))
        except (AuthenticationError, UnicodeDecodeError):
            return await self._refused(server, mechanism, "unknown or revoked key")
        except Exception:
            log.exception("session %s: API key check failed", server.session_id)
            return AuthResult(success=False, handled=False, message=AUTH_TEMPFAIL)
        if not principal.has_scope(REQUIRED_SCOPE):
            return await self._refused(server, mechanism, f"key lacks the scope {REQUIRED_SCOPE}")
        log.info(
            "session %s: AUTH %s from %s ok for account %s key %s",
            server.session_id,
            mechanism,
            server.client_ip,
            principal.account_id,
            principal.api_key_id,
        )
        return AuthResult(success=True, auth_data=principal)

    async def _precheck(self, server: IngressSMTP) -> AuthResult | None:
        """The refusal due before reading any credentials: no TLS yet, or a client address
        at its AUTH failure limit (421 and disconnect, whatever it would send)."""
        if not is_encrypted(server):
            return AuthResult(success=False, handled=False, message=ENCRYPTION_REQUIRED)
        if self._failures.blocked(server.client_ip):
            log.info("session %s: AUTH from %s throttled", server.session_id, server.client_ip)
            await server.refuse(TOO_MANY_AUTH_FAILURES)
            return AuthResult(success=False, handled=True)
        return None

    async def _refused(self, server: IngressSMTP, mechanism: str, reason: str) -> AuthResult:
        """Every refusal looks the same (535 5.7.8), after a delay growing with the client's
        failures; the one reaching the limit gets 421 and the connection closes."""
        client = server.client_ip
        failures = self._failures.record(client)
        log.info(
            "session %s: AUTH %s from %s refused (failure %d): %s",
            server.session_id,
            mechanism,
            client,
            failures,
            reason,
        )
        if failures >= self._failures.limit:
            await server.refuse(TOO_MANY_AUTH_FAILURES)
            return AuthResult(success=False, handled=True)
        delay = self._failures.delay(failures)
        if delay > 0:
            await asyncio.sleep(delay)
        return AuthResult(success=False, handled=False, message=AUTH_INVALID)

    async def handle_MAIL(
        self,
        server: IngressSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not session.authenticated or not isinstance(session.auth_data, Principal):
            return AUTH_REQUIRED
        too_many = server.count_message()
        if too_many is not None:
            return too_many
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: IngressSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: IngressSMTP, session: Session, envelope: Envelope) -> str:
        principal = session.auth_data
        if not session.authenticated or not isinstance(principal, Principal):
            return AUTH_REQUIRED
        data = envelope.original_content or b""
        sender = reverse_path(envelope.mail_from)
        try:
            message_id = await self._sink.submit_smtp(
                principal, sender, list(envelope.rcpt_tos), data, session_trace(server, session)
            )
        except Exception as exc:
            return _refusal_for(server, exc)
        return f"250 2.0.0 Ok: queued as {printable(message_id)}"

    async def handle_PROXY(
        self, server: IngressSMTP, session: Session, envelope: Envelope, proxy_data: ProxyData
    ) -> bool:
        return await server.admit_proxied()

    async def handle_exception(self, error: Exception) -> str:
        return unexpected_exception_reply(log, error)


def submission_factory(
    settings: SmtpSettings,
    handler: SubmissionHandler,
    tls: ssl.SSLContext,
    *,
    implicit_tls: bool,
    loop: asyncio.AbstractEventLoop,
    limits: ConnectionLimits | None = None,
) -> Callable[[], IngressSMTP]:
    """Protocol factory for `loop.create_server`.

    STARTTLS port (implicit_tls=False): aiosmtpd refuses everything but EHLO/STARTTLS/QUIT
    before TLS (530) and MAIL/RCPT/DATA before AUTH (530 5.7.0).
    Implicit-TLS port (True; the server must be created with ssl=tls, unless the port expects
    a PROXY header: then the protocol starts TLS after it): aiosmtpd only knows
    TLS it negotiated itself, so its TLS-before-AUTH check is off there, and with it its
    auth_required (it warns on that pair); the handler enforces both instead.
    """
    options = smtp_options(settings, loop)
    name: ListenerName = "smtps" if implicit_tls else "submission"
    proxy, attributes = admission_setup(settings, name, limits, tls if implicit_tls else None)
    options.update(proxy)
    if implicit_tls:
        options.update(auth_required=False, auth_require_tls=False)
    else:
        options.update(
            tls_context=tls, require_starttls=True, auth_required=True, auth_require_tls=True
        )
    return ProtocolFactory(IngressSMTP, handler, options, attributes)


async def _client_response(server: IngressSMTP, args: list[str], challenge: str) -> bytes | None:
    """The base64 initial response in `args` or, without one, the answer to a 334 challenge.

    None when the client aborted or sent bad base64 (already answered with 501).
    """
    if len(args) < 2:
        answer = await server.challenge_auth(challenge)
        return answer if isinstance(answer, bytes) else None
    if args[1] == "=":  # RFC 4954: an empty initial response
        return b""
    try:
        return base64.b64decode(args[1], validate=True)
    except binascii.Error:
        await server.push("501 5.5.2 Can't decode base64")
        return None


def _refusal_for(server: IngressSMTP, error: Exception) -> str:
    known = error_reply(error)
    if known is not None:
        log.info("session %s: message refused: %s", server.session_id, known)
        return known
    log.error("session %s: intake failed", server.session_id, exc_info=error)
    return internal_error(server.session_id)
