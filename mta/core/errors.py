"""The exception tree every part of the MTA raises; each edge translates it once.

ScaiSendError
├── ValidationError      bad input; carries the field path        (HTTP 400, SMTP 5.5.x/5.6.x)
├── AuthenticationError  missing, bad or revoked credentials      (HTTP 401, SMTP 535 5.7.8)
├── PermissionDenied     authenticated but not allowed            (HTTP 403, SMTP 550 5.7.1)
├── NotFound             no such resource in this account         (HTTP 404)
├── Conflict             already exists                           (HTTP 409)
├── PayloadTooLarge      over a size limit                        (HTTP 413, SMTP 552 5.3.4)
├── RateLimited          too many tries for now                   (HTTP 429)
├── MailLoop             too many Received headers (hop count)    (SMTP 554 5.4.6)
├── StorageUnavailable   cannot make the message durable          (HTTP 503, SMTP 451 4.3.0)
└── DeliveryFailure      a remote or routing failure with an SmtpReply and a scope
    ├── TransientFailure (deferred, retried)
    └── PermanentFailure (bounced)
"""

from __future__ import annotations

from typing import Literal

from queue_store.entries import SmtpReply

FailureScope = Literal["recipient", "message", "destination", "session"]


class ScaiSendError(Exception):
    def __init__(self, message: str, *, field: str | None = None, help: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.help = help


class ValidationError(ScaiSendError):
    pass


class AuthenticationError(ScaiSendError):
    pass


class PermissionDenied(ScaiSendError):
    pass


class NotFound(ScaiSendError):
    pass


class Conflict(ScaiSendError):
    pass


class PayloadTooLarge(ScaiSendError):
    pass


class RateLimited(ScaiSendError):
    pass


class MailLoop(ScaiSendError):
    pass


class StorageUnavailable(ScaiSendError):
    pass


class DeliveryFailure(Exception):
    def __init__(self, reply: SmtpReply, scope: FailureScope, mx_host: str | None = None):
        super().__init__(reply.line())
        self.reply = reply
        self.scope = scope
        self.mx_host = mx_host


class TransientFailure(DeliveryFailure):
    pass


class PermanentFailure(DeliveryFailure):
    pass
