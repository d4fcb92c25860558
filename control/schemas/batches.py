"""Request bodies of `/v3/user/scheduled_sends` (SendGrid's field names)."""

from __future__ import annotations

import msgspec

from mta.scheduler.batches import BatchStatus


class ScheduledSendCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    batch_id: str
    status: BatchStatus


class ScheduledSendUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    status: BatchStatus
