"""Queue entries and message contents made to order for the spool tests, importable by the
child processes those tests start as well as by the tests themselves."""

from __future__ import annotations

from queue_store.entries import Envelope, QueueEntry, RecipientState


def spool_entry(
    queue_id: str, emails: tuple[str, ...] = ("x@example.net", "y@example.org")
) -> QueueEntry:
    return QueueEntry(
        envelope=Envelope(
            message_id=f"m-{queue_id}",
            queue_id=queue_id,
            account_id="acct",
            sender="a@example.com",
            sender_domain="example.com",
            return_path_host="bounces.example.com",
            created_at=1_700_000_000.5,
            categories=["c"],
            custom_args={"k": "v"},
        ),
        recipients=[RecipientState(email=e, index=i) for i, e in enumerate(emails)],
    )


def spool_content(queue_id: str, size: int = 300) -> bytes:
    """A header naming `queue_id` and `size` bytes of a body that differs per queue id."""
    head = f"Subject: {queue_id}\r\n\r\n".encode()
    return head + bytes((i * 7 + len(queue_id)) % 251 for i in range(size))
