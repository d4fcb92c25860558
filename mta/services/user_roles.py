"""What each role of a signed-in user may do, in SendGrid's scope names: support reads the
activity and the suppressions; developer also sends and manages keys, templates, webhooks
and scheduled sends; an account's admin holds every scope; the operator belongs to no
account (the accounts API and the whole queue)."""

from __future__ import annotations

from typing import Literal

from mta.services.scopes import KNOWN_SCOPES

UserRole = Literal["operator", "admin", "developer", "support"]
ACCOUNT_ROLES = ("admin", "developer", "support")

SUPPORT_PREFIXES = (
    "messages.read",
    "email_activity.read",
    "stats.",
    "categories.stats.",
    "suppression.",
    "asm.",
    "dmarc.",
    "tls_reports.",
)
DEVELOPER_PREFIXES = (
    *SUPPORT_PREFIXES,
    "mail.",
    "api_keys.",
    "templates.",
    "user.webhooks.",
    "user.scheduled_sends.",
)


def role_scopes(role: UserRole) -> frozenset[str]:
    """The scopes a user of this role holds (support reads only)."""
    if role == "admin":
        return frozenset(KNOWN_SCOPES)
    if role == "operator":
        return frozenset()
    prefixes = DEVELOPER_PREFIXES if role == "developer" else SUPPORT_PREFIXES
    held = {s for s in KNOWN_SCOPES if s.startswith(prefixes)}
    if role == "support":
        held = {s for s in held if s.endswith(".read")}
    return frozenset(held)
