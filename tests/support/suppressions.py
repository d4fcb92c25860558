"""What the suppression scenarios share: the addresses the MX sink bounces, blocks or that
get unsubscribed, and the `/v3/mail/send` body they send to them."""

from __future__ import annotations

from typing import Any

GONE, BAD, BLOCKED = "gone@example.com", "bad@example.com", "blocked@example.com"
UNSUB, LEFT, OK = "unsub@example.com", "left@example.com", "ok@example.com"


def mail(*groups: list[str], **extra: Any) -> dict[str, Any]:
    """One personalization per group of recipients; `extra` top-level fields."""
    return {
        "personalizations": [{"to": [{"email": r} for r in group]} for group in groups],
        "from": {"email": "hello@mail.example.com"},
        "subject": "Suppressed?",
        "content": [{"type": "text/plain", "value": "Hello"}],
        **extra,
    }
