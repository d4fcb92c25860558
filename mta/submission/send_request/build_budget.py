"""What building one `/v3/mail/send` request may cost in all: the bytes of every
personalization's message together (they are held until the whole request is accepted) and
the time spent building them; each render within it has its own budget besides."""

from __future__ import annotations

import msgspec

from mta.core.errors import ValidationError
from mta.submission.mime import MimeAttachment
from mta.submission.send_request.request import MailSend

HELP = "[http] max_send_build_bytes and max_send_build_seconds in the server's configuration"


class BuildLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_bytes: int = 268_435_456
    max_seconds: float = 10.0


def check_expected_size(
    limits: BuildLimits, request: MailSend, attachments: list[MimeAttachment]
) -> None:
    """Refuse at once, before building any, a request whose messages would pass the byte
    limit: each personalization's message carries at least the request's content and its
    attachments (base64)."""
    shared = sum(len(c.value) for c in request.content) + sum(len(a.body) for a in attachments)
    personalizations = len(request.personalizations)
    if personalizations * shared > limits.max_bytes:
        raise too_large(
            limits, f"{personalizations} personalizations each carrying the content and attachments"
        )


class BuildBudget:
    """The running total of one request's built messages, whose building started at
    `started` (monotonic seconds); `charge` after each personalization raises
    ValidationError over a limit."""

    __slots__ = ("_limits", "_started", "built")

    def __init__(self, limits: BuildLimits, started: float) -> None:
        self._limits = limits
        self._started = started
        self.built = 0

    def charge(self, index: int, size: int, now: float) -> None:
        self.built += size
        if self.built > self._limits.max_bytes:
            raise too_large(self._limits, f"the messages of personalizations 0 to {index}")
        if now - self._started > self._limits.max_seconds:
            raise ValidationError(
                f"building the request's messages took more than "
                f"{self._limits.max_seconds:g} s (stopped after personalization {index}): "
                f"send fewer personalizations per request or a smaller template",
                field=f"personalizations.{index}",
                help=HELP,
            )


def too_large(limits: BuildLimits, which: str) -> ValidationError:
    mib = limits.max_bytes / 1_048_576
    return ValidationError(
        f"the request's messages together would be over {mib:g} MiB ({which}): send "
        f"fewer personalizations per request, or link large files instead of attaching them",
        field="personalizations",
        help=HELP,
    )
