"""The scope catalogue: SendGrid's permission names for what ScaiSend implements, in one place.

A JWT holds every scope; an API key holds the ones it was created with, never more than its
creator held (`missing_scopes`).
"""

from __future__ import annotations

from collections.abc import Iterable

CRUD = ("create", "read", "update", "delete")


def _crud(*prefixes: str) -> set[str]:
    return {f"{prefix}.{verb}" for prefix in prefixes for verb in CRUD}


# SendGrid's names (https://www.twilio.com/docs/sendgrid/api-reference/api-key-permissions),
# limited to the resources this server has or is adding.
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "mail.send",
        "messages.read",
        "email_activity.read",
        "stats.read",
        "stats.global.read",
        "categories.stats.read",
        "categories.stats.sums.read",
        "suppression.read",
        "suppression.create",
        "suppression.update",
        "suppression.delete",
        # ScaiSend's own (SendGrid has no such API): the DMARC and TLS-RPT reports received
        "dmarc.read",
        "tls_reports.read",
        "templates.versions.activate.create",
        "templates.versions.activate.read",
        "templates.versions.activate.update",
        "templates.versions.activate.delete",
        "user.webhooks.parse.stats.read",
        *_crud(
            "api_keys",
            "templates",
            "templates.versions",
            "mail.batch",
            "user.scheduled_sends",
            "user.webhooks.event.settings",
            "user.webhooks.parse.settings",
            "asm.groups",
            "asm.groups.suppressions",
            "asm.suppressions.global",
            "suppression.bounces",
            "suppression.blocks",
            "suppression.invalid_emails",
            "suppression.spam_reports",
            "suppression.unsubscribes",
        ),
    }
)

ALL_SCOPES: tuple[str, ...] = tuple(sorted(KNOWN_SCOPES))


def missing_scopes(held: frozenset[str], wanted: Iterable[str]) -> list[str]:
    """The wanted scopes a caller holding `held` may not grant (a key never grants more)."""
    return sorted({scope for scope in wanted if scope not in held})
