"""Request bodies of the suppression and unsubscribe-group endpoints (SendGrid's field names)."""

from __future__ import annotations

import msgspec

from mta.services.asm_groups import GroupStatus


class DeleteEntries(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`DELETE /v3/suppression/{list}`: everything, or the given addresses."""

    delete_all: bool = False
    emails: list[str] = msgspec.field(default_factory=list)


class RecipientEmails(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    recipient_emails: list[str]


class GroupCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str
    description: str = ""
    is_default: bool = False


class GroupUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """SendGrid's own example sends the group's `id` too: accepted and ignored."""

    id: int | None = None
    name: str | None = None
    description: str | None = None
    is_default: bool | None = None


class GlobalStatus(msgspec.Struct, kw_only=True, omit_defaults=True):
    """`GET /v3/asm/suppressions/global/{email}`: the address if suppressed, else `{}`."""

    recipient_email: str | None = None


class GroupStatuses(msgspec.Struct, kw_only=True):
    suppressions: list[GroupStatus]
