"""The durable spool: the only truth for in-flight mail."""

from queue_store.spool import FileSpool, QueueStore, SpooledMessage

__all__ = ["FileSpool", "QueueStore", "SpooledMessage"]
