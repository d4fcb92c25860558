"""The request-wide build budget: bytes of all personalizations' messages and time."""

from __future__ import annotations

import msgspec
import pytest

from mta.core.errors import ValidationError
from mta.submission.mime import MimeAttachment
from mta.submission.send_request.build_budget import (
    BuildBudget,
    BuildLimits,
    check_expected_size,
)
from mta.submission.send_request.request import MailSend

LIMITS = BuildLimits(max_bytes=1000, max_seconds=2.0)


def request(personalizations: int, text: str = "x" * 10) -> MailSend:
    body = {
        "personalizations": [
            {"to": [{"email": f"u{i}@example.net"}]} for i in range(personalizations)
        ],
        "from": {"email": "a@example.com"},
        "subject": "s",
        "content": [{"type": "text/plain", "value": text}],
    }
    return msgspec.convert(body, MailSend)


def attachment(body_chars: int) -> MimeAttachment:
    return MimeAttachment(
        content_type="text/plain",
        filename="a.txt",
        inline=False,
        content_id=None,
        body="A" * body_chars,
        size=body_chars * 3 // 4,
    )


def test_expect_counts_content_and_base64_attachments_per_personalization() -> None:
    check_expected_size(LIMITS, request(10), [attachment(90)])  # 10 times (10 + 90) = 1000
    with pytest.raises(ValidationError) as refused:
        check_expected_size(LIMITS, request(10), [attachment(91)])
    assert refused.value.field == "personalizations"
    assert "10 personalizations each carrying" in refused.value.message


def test_charge_adds_up_the_built_messages() -> None:
    budget = BuildBudget(LIMITS, started=0.0)
    budget.charge(0, 600, now=0.1)
    with pytest.raises(ValidationError) as refused:
        budget.charge(1, 401, now=0.2)
    assert "personalizations 0 to 1" in refused.value.message
    assert "max_send_build_bytes" in (refused.value.help or "")


def test_charge_stops_at_the_deadline_naming_the_personalization() -> None:
    budget = BuildBudget(LIMITS, started=10.0)
    budget.charge(0, 1, now=12.0)  # exactly the limit is allowed
    with pytest.raises(ValidationError) as late:
        budget.charge(1, 1, now=12.01)
    assert late.value.field == "personalizations.1"
    assert "more than 2 s" in late.value.message
