"""The copies an SMTP-submitted message is spooled as, with its X-SMTPAPI filters applied by the
HTTP path's code (footer, open, click and subscription tracking, List-Unsubscribe): one copy
for all recipients, or one per recipient when its links must say whose they are."""

from __future__ import annotations

import msgspec

from mta.submission.schedule import schedule
from mta.submission.send_request.compose import apply_tracking, with_footer
from mta.submission.send_request.request import Content
from mta.submission.smtp_message.body import rewrite_texts
from mta.submission.smtp_message.submitted import Submitted
from mta.tracking.content import Plan, Tracker, plan_from, prepend_list_unsubscribe
from queue_store.entries import Envelope, QueueEntry, RecipientState


class Copy(msgspec.Struct, frozen=True):
    """One spool entry (scheduled) and its bytes, not yet signed."""

    entry: QueueEntry
    data: bytes


def smtp_copies(
    tracker: Tracker | None,
    submitted: Submitted,
    stamped: bytes,
    envelope: Envelope,
    recipients: list[RecipientState],
    now: float,
) -> list[Copy]:
    """One copy unless tracking links are asked for and there are several recipients: the
    bytes of a copy are shared by its recipients, and a link names one recipient."""
    plan = plan_from(
        submitted.settings.tracking,
        submitted.asm_group_id,
        envelope.message_id,
        0,
        envelope.return_path_host,
    )
    if tracker is None or plan is None or len(recipients) == 1 or not _links(plan):
        data = _filtered(tracker, submitted, stamped, plan, len(recipients))
        return [_copy(envelope, envelope.queue_id, recipients, data, submitted.send_at, now)]
    copies = []
    for state in recipients:
        own = msgspec.structs.replace(plan, recipient_index=state.index)
        data = _filtered(tracker, submitted, stamped, own, 1)
        queue_id = f"{envelope.message_id}-{state.index}"
        copies.append(_copy(envelope, queue_id, [state], data, submitted.send_at, now))
    return copies


def _copy(
    envelope: Envelope,
    queue_id: str,
    recipients: list[RecipientState],
    data: bytes,
    send_at: int | None,
    now: float,
) -> Copy:
    own = msgspec.structs.replace(envelope, queue_id=queue_id)
    entry = QueueEntry(envelope=own, recipients=recipients)
    schedule(entry, send_at, None, now)
    return Copy(entry, data)


def _links(plan: Plan) -> bool:
    """Whether the body gets links or a pixel naming the recipient."""
    return plan.open is not None or plan.click is not None or plan.subscription is not None


def _filtered(
    tracker: Tracker | None, submitted: Submitted, data: bytes, plan: Plan | None, recipients: int
) -> bytes:
    """The footer and the tracking in the text parts, then List-Unsubscribe on top."""
    footer = submitted.settings.mail.footer
    tracked = tracker is not None and plan is not None and _links(plan)
    if (footer is not None and footer.enable) or tracked:

        def change(contents: list[Content]) -> list[Content]:
            return apply_tracking(tracker, plan, with_footer(contents, footer))

        data = rewrite_texts(data, change)
    if plan is None:
        return data
    present = submitted.headers
    return prepend_list_unsubscribe(
        tracker, data, present=present, recipients=recipients, plan=plan
    )
